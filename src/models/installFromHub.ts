/**
 * A model from the hub, ready to load: the file list of one commit, the files a model needs, a verified resumable
 * download into `<out>.download/`, then for a TaH checkpoint (v1 or TaH2) the project's converter into `out` (at a type chosen
 * from the machine's memory unless given), for a GGUF repository its file(s) moved to `out`. `out` appears only
 * complete; the staging folder is removed after, and kept after a cancel or a failure so that a next run resumes.
 */
import { mkdir, readdir, rename, rm, rmdir, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { convertCheckpoint, type ConvertProgress, type Quantizer } from "../convert/convertCheckpoint.js";
import { outputTypes, type OutputTypeName } from "../convert/outputTypes.js";
import { readQwen3Config } from "../convert/qwen3Backbone.js";
import { catalogueEntryForRepo, tah2Shape } from "./catalogue.js";
import { DownloadError } from "./DownloadError.js";
import type { DownloadProgress } from "./downloadProgress.js";
import type { FreeSpaceReader } from "./freeSpace.js";
import { readGgufSummary, type GgufSummary } from "./ggufSummary.js";
import type { HubClient } from "./HubClient.js";
import { chooseDefaultType, type TypeChoice } from "./memoryEstimate.js";
import { repoKindOf, selectFiles } from "./repoFiles.js";
import type { RepoRef } from "./repoRef.js";
import { downloadToStaging, stagedFilesDir } from "./stagedDownload.js";

export type InstallProgress =
    | { readonly stage: "list"; readonly message: string }
    | { readonly stage: "download"; readonly download: DownloadProgress }
    | { readonly stage: "convert"; readonly convert: ConvertProgress };

export interface InstallFromHubOptions {
    readonly client: HubClient;
    readonly ref: RepoRef;
    readonly outDir: string;
    /** Globs of the files to fetch; default: what the repository's kind needs. */
    readonly include?: readonly string[];
    /** TaH: the conversion's type (default from the machine's memory). GGUF: picks that quantization's file. */
    readonly type?: OutputTypeName;
    /** llama.cpp's quantizer; needed for quantized TaH types. */
    readonly quantize?: Quantizer;
    readonly threads?: number;
    /** Default os.totalmem(). */
    readonly totalMemoryBytes?: number;
    readonly freeSpace?: FreeSpaceReader;
    readonly concurrency?: number;
    readonly signal?: AbortSignal;
    readonly onProgress?: (progress: InstallProgress) => void;
    /** Flush converted files before they are renamed into place (default true). */
    readonly sync?: boolean;
    /**
     * false: a TaH checkpoint is only downloaded, into `out`, for a converter elsewhere (the extension converts through
     * the engine process, and keeps the checkpoint so that the model can be converted again to another type).
     */
    readonly convert?: boolean;
}

export interface InstallResult {
    /** "tah": a TaH model folder of either generation; "checkpoint": a TaH checkpoint downloaded and not converted (convert: false). */
    readonly kind: "tah" | "gguf" | "checkpoint";
    readonly outDir: string;
    readonly commit: string;
    /** TaH: the conversion's type, and how it was chosen when it was not given. */
    readonly type?: OutputTypeName;
    readonly typeChoice?: TypeChoice;
    /** What `out` holds, relative to it. */
    readonly files: readonly string[];
    /** GGUF: each model file's architecture and whether it has fill-in-the-middle tokens. */
    readonly gguf?: readonly ({ readonly file: string } & GgufSummary)[];
}

/** `out` may be written: absent, or an empty folder. */
async function checkOut(outDir: string): Promise<void> {
    try {
        if (!(await stat(outDir)).isDirectory() || (await readdir(outDir)).length > 0)
            throw new DownloadError("unsupported", `${outDir} exists and is not an empty folder; choose another --out`);
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT")
            throw error;
    }
}

async function listTree(dir: string, prefix = ""): Promise<string[]> {
    const names: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
        const relative = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
        names.push(...(entry.isDirectory() ? await listTree(path.join(dir, entry.name), relative) : [relative]));
    }
    return names.sort();
}

/** Disk a conversion needs beyond the download: the output, and for quantized types the lossless intermediate too. */
function conversionBytes(weightBytes: number, type: OutputTypeName | undefined): number {
    if (type === undefined || outputTypes[type].backbone === "quantize")
        return weightBytes * 2;
    return type === "f32" ? weightBytes * 2 : weightBytes;
}

export async function installFromHub(options: InstallFromHubOptions): Promise<InstallResult> {
    const { client, ref } = options;
    const outDir = path.resolve(options.outDir);
    const report = options.onProgress ?? (() => undefined);
    await checkOut(outDir);

    report({ stage: "list", message: `listing ${ref.repo}@${ref.revision} on ${client.endpoint}` });
    const snapshot = await client.listFiles(ref.repo, ref.revision, options.signal);
    const kind = repoKindOf(snapshot.files.map((file) => file.path));
    if (kind === undefined)
        throw new DownloadError("unsupported", `${ref.repo} is neither a TaH checkpoint (tah_config.json, iter_decider.bin) nor a GGUF repository`);
    const files = selectFiles(ref.repo, kind, snapshot.files, { ...(options.include !== undefined ? { include: options.include } : {}), ...(kind === "gguf" && options.type !== undefined ? { type: options.type } : {}) });

    const stagingDir = `${outDir}.download`;
    const weightBytes = files.filter((file) => file.path.endsWith(".safetensors")).reduce((sum, file) => sum + file.size, 0);
    await downloadToStaging({
        client,
        snapshot,
        files,
        stagingDir,
        extraBytes: kind !== "gguf" ? conversionBytes(weightBytes, options.type) : 0,
        onProgress: (download) => report({ stage: "download", download }),
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        ...(options.freeSpace !== undefined ? { freeSpace: options.freeSpace } : {}),
    });
    const downloaded = stagedFilesDir(stagingDir, ref.repo);

    if (kind === "gguf" || options.convert === false) {
        await checkOut(outDir);
        await rmdir(outDir).catch((error: NodeJS.ErrnoException) => {
            if (error.code !== "ENOENT")
                throw error;
        });
        await mkdir(path.dirname(outDir), { recursive: true });
        // A split GGUF's metadata is in its first part.
        const ggufs = kind !== "gguf" ? [] : files.map((file) => file.path).filter((name) => name.toLowerCase().endsWith(".gguf") && !/-(?!00001)\d{5}-of-\d{5}\.gguf$/i.test(name));
        const summaries = await Promise.all(ggufs.map(async (name) => ({ file: name, ...(await readGgufSummary(path.join(downloaded, ...name.split("/")))) })));
        await rename(downloaded, outDir);
        await rm(stagingDir, { recursive: true, force: true });
        return { kind: kind === "gguf" ? "gguf" : "checkpoint", outDir, commit: snapshot.commit, files: await listTree(outDir), ...(kind === "gguf" ? { gguf: summaries } : {}) };
    }

    let typeChoice: TypeChoice | undefined;
    let type = options.type;
    if (type === undefined) {
        const tah = catalogueEntryForRepo(ref.repo)?.tah ?? (kind === "tah2" ? tah2Shape : { loraRank: 32 });
        typeChoice = chooseDefaultType(await readQwen3Config(downloaded), options.totalMemoryBytes ?? os.totalmem(), { tah });
        type = typeChoice.type;
    }
    await convertCheckpoint({
        checkpointDir: downloaded,
        outDir,
        type,
        name: ref.repo.split("/")[1],
        onProgress: (convert) => report({ stage: "convert", convert }),
        ...(options.quantize !== undefined ? { quantize: options.quantize } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        ...(options.sync !== undefined ? { sync: options.sync } : {}),
    });
    await rm(stagingDir, { recursive: true, force: true });
    return { kind: "tah", outDir, commit: snapshot.commit, type, ...(typeChoice !== undefined ? { typeChoice } : {}), files: await listTree(outDir) };
}
