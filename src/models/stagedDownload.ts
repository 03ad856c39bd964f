/**
 * Downloads files of one commit into a staging folder, several at a time, each resumable and verified.
 *
 * The staging folder (one per destination, so a later run finds it):
 *   <name>/<path>             complete and verified against the hub's checksum (<name>: the repository's)
 *   <name>/<path>.incomplete  being downloaded; resumed with an HTTP Range from its size
 *   .state/<path>.json        the identity (sha256 / git blob id) and size the bytes belong to: when the hub's file
 *                             has changed since, the file starts again from zero
 * Free disk space is checked before the first byte. A wrong checksum discards the whole staging folder (the
 * source cannot be trusted); a cancel or a failure keeps it, so the next run resumes.
 */
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { formatBytes } from "../format/formatBytes.js";
import { DownloadError } from "./DownloadError.js";
import { ProgressModel, type DownloadProgress } from "./downloadProgress.js";
import { expectedChecksum, fileChecksum } from "./fileChecksum.js";
import { readFreeSpace, type FreeSpaceReader } from "./freeSpace.js";
import type { HubClient, RepoFile, RepoSnapshot } from "./HubClient.js";
import { withRetries } from "./retryPolicy.js";

export interface StagedDownloadOptions {
    readonly client: HubClient;
    readonly snapshot: RepoSnapshot;
    /** The snapshot's files to fetch. */
    readonly files: readonly RepoFile[];
    readonly stagingDir: string;
    /** Files in flight at once; default 4. */
    readonly concurrency?: number;
    /** Bytes the step after the download needs on the same disk (a conversion's output). */
    readonly extraBytes?: number;
    readonly signal?: AbortSignal;
    readonly onProgress?: (progress: DownloadProgress) => void;
    /** Milliseconds; default Date.now (the progress model's clock). */
    readonly now?: () => number;
    readonly freeSpace?: FreeSpaceReader;
}

const reportIntervalMs = 100;

const stateSchema = z.object({ identity: z.string(), size: z.number() });

interface PlannedFile {
    readonly file: RepoFile;
    readonly identity: string;
    readonly target: string;
    readonly partial: string;
    readonly stateFile: string;
    readonly complete: boolean;
    /** Bytes of the partial file that can be kept. */
    readonly onDisk: number;
}

function identityOf(file: RepoFile): string {
    return file.sha256 ?? file.gitBlobId ?? `size ${file.size}`;
}

async function sizeOf(file: string): Promise<number | undefined> {
    try {
        return (await stat(file)).size;
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT")
            return undefined;
        throw error;
    }
}

async function readState(stateFile: string): Promise<z.infer<typeof stateSchema> | undefined> {
    try {
        return stateSchema.parse(JSON.parse(await readFile(stateFile, "utf8")));
    } catch {
        return undefined;
    }
}

/**
 * The segments of a file path the hub listed, refused unless every one is a plain name: a "..", "." or empty segment
 * (or a backslash, a separator on Windows) could place the file, or its resume state, outside where it belongs.
 */
export function repoPathSegments(repo: string, filePath: string): string[] {
    const segments = filePath.split("/");
    if (segments.some((segment) => segment === "" || segment === "." || segment === ".." || segment.includes("\\") || segment.includes("\0")))
        throw new DownloadError("unsupported", `${repo} lists a file outside the repository or with an unusable name: ${JSON.stringify(filePath)}`);
    return segments;
}

/** Where the complete files are: a folder named as the repository (a converted model's manifest names it). */
export function stagedFilesDir(stagingDir: string, repo: string): string {
    return path.join(stagingDir, repo.split("/")[1]);
}

class StagedDownload {
    private readonly inner = new AbortController();
    private readonly signal: AbortSignal;
    private readonly now: () => number;
    private progress: ProgressModel | undefined;
    private lastReport = -Infinity;
    private heldReport: NodeJS.Timeout | undefined;

    constructor(private readonly options: StagedDownloadOptions) {
        this.signal = options.signal === undefined ? this.inner.signal : AbortSignal.any([options.signal, this.inner.signal]);
        this.now = options.now ?? Date.now;
    }

    async run(): Promise<void> {
        const o = this.options;
        const planned = await Promise.all(o.files.map((file) => this.plan(file)));
        const missing = planned.reduce((sum, p) => sum + (p.complete ? 0 : p.file.size - p.onDisk), 0);
        const needed = missing + (o.extraBytes ?? 0);
        const free = await (o.freeSpace ?? readFreeSpace)(o.stagingDir);
        if (needed > free)
            throw new DownloadError("diskSpace", `${o.snapshot.repo} needs ${formatBytes(needed)} of free disk space in ${path.dirname(path.resolve(o.stagingDir))}${o.extraBytes ? " (download and conversion)" : ""}, and there are ${formatBytes(free)}`);

        const progress = new ProgressModel(o.files.reduce((sum, file) => sum + file.size, 0), o.files.length);
        this.progress = progress;
        for (const p of planned) {
            progress.resumed(p.complete ? p.file.size : p.onDisk);
            if (p.complete)
                progress.fileDone();
        }
        this.report(true);

        const queue = planned.filter((p) => !p.complete);
        let firstError: Error | undefined;
        const worker = async (): Promise<void> => {
            for (let next = queue.shift(); next !== undefined && firstError === undefined; next = queue.shift()) {
                try {
                    await this.fetch(next);
                } catch (error) {
                    firstError ??= error instanceof Error ? error : new Error(String(error));
                    this.inner.abort();
                }
            }
        };
        await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 4) }, worker));
        this.stopReports();
        if (firstError !== undefined) {
            // The others stopped because of it; a cancellation by the caller is reported as such.
            const error = o.signal?.aborted ? new DownloadError("aborted", `the download was cancelled; what came is kept in ${path.resolve(o.stagingDir)}, and the same download again resumes from it`) : firstError;
            if (error instanceof DownloadError && error.code === "checksum")
                await rm(o.stagingDir, { recursive: true, force: true });
            throw error;
        }
        this.report(true);
    }

    private async plan(file: RepoFile): Promise<PlannedFile> {
        const filesDir = stagedFilesDir(this.options.stagingDir, this.options.snapshot.repo);
        const segments = repoPathSegments(this.options.snapshot.repo, file.path);
        const target = path.join(filesDir, ...segments);
        const stateFile = `${path.join(this.options.stagingDir, ".state", ...segments)}.json`;
        const partial = `${target}.incomplete`;
        const identity = identityOf(file);
        const state = await readState(stateFile);
        if (state?.identity === identity && state.size === file.size) {
            if ((await sizeOf(target)) === file.size)
                return { file, identity, target, partial, stateFile, complete: true, onDisk: file.size };
            const onDisk = (await sizeOf(partial)) ?? 0;
            if (onDisk <= file.size)
                return { file, identity, target, partial, stateFile, complete: false, onDisk };
        }
        // Nothing, or bytes of another version of the file: start from zero.
        await rm(target, { force: true });
        await rm(partial, { force: true });
        return { file, identity, target, partial, stateFile, complete: false, onDisk: 0 };
    }

    private async fetch(p: PlannedFile): Promise<void> {
        const o = this.options;
        await mkdir(path.dirname(p.target), { recursive: true });
        await mkdir(path.dirname(p.stateFile), { recursive: true });
        await writeFile(p.stateFile, JSON.stringify({ identity: p.identity, size: p.file.size }));
        // What this file has added to the progress: taken back if the server makes it start again.
        const counted = { resumed: p.onDisk, received: 0 };
        await withRetries(() => this.fetchOnce(p, counted), { ...o.client.retry, signal: this.signal });
        await this.verify(p);
        await rename(p.partial, p.target);
        this.progress?.fileDone();
        this.report(true);
    }

    /** One request from where the partial file ends to the end of the file. */
    private async fetchOnce(p: PlannedFile, counted: { resumed: number; received: number }): Promise<void> {
        const o = this.options;
        const progress = this.progress as ProgressModel;
        const what = `${o.snapshot.repo}/${p.file.path}`;
        const offset = (await sizeOf(p.partial)) ?? 0;
        if (offset === p.file.size && p.file.size > 0)
            return;
        const response = await o.client.openFile(o.snapshot.repo, o.snapshot.commit, p.file.path, { offset, signal: this.signal });
        if (response.etag !== undefined && expectedChecksum(p.file) !== undefined && response.etag !== p.identity)
            throw new DownloadError("checksum", `${what}: the hub serves a different version (ETag ${response.etag}) than it lists (${p.identity}); run the download again`);
        if (response.size !== undefined && response.size !== p.file.size)
            throw new DownloadError("checksum", `${what}: the hub serves ${response.size} bytes and lists ${p.file.size}; run the download again`);
        if (response.start !== offset && response.start !== 0)
            throw new DownloadError("server", `${what}: the server sent bytes from ${response.start} when asked for ${offset}`);
        if (response.start !== offset) {
            // The server ignored the Range: the bytes so far are replaced.
            progress.restarted(counted.resumed, counted.received);
            counted.resumed = 0;
            counted.received = 0;
        }
        const handle = await open(p.partial, response.start === 0 ? "w" : "a");
        let written = response.start;
        try {
            for await (const chunk of response.body) {
                if (written + chunk.byteLength > p.file.size)
                    throw new DownloadError("checksum", `${what}: the hub sent more than the ${p.file.size} bytes it lists`);
                await handle.write(chunk);
                written += chunk.byteLength;
                progress.received(chunk.byteLength, this.now());
                counted.received += chunk.byteLength;
                this.report(false);
            }
        } finally {
            await handle.close();
        }
        if (written < p.file.size)
            throw new DownloadError("network", `${what}: the connection closed after ${written} of ${p.file.size} bytes`);
    }

    private async verify(p: PlannedFile): Promise<void> {
        const expected = expectedChecksum(p.file);
        if (expected === undefined)
            return;
        const actual = await fileChecksum(p.partial, expected.algorithm, p.file.size);
        if (actual !== expected.value)
            throw new DownloadError("checksum", `${this.options.snapshot.repo}/${p.file.path}: the downloaded bytes have ${expected.algorithm === "sha256" ? "sha256" : "git blob id"} ${actual}, the hub lists ${expected.value}; the download was discarded`);
    }

    /**
     * At most ten reports a second, and always the ones that mark a file done. A report held back is made when the
     * 100 ms are over, so that the last bytes show also when the connection then stalls.
     */
    private report(always: boolean): void {
        const onProgress = this.options.onProgress;
        if (this.progress === undefined || onProgress === undefined)
            return;
        const now = this.now();
        if (!always && now - this.lastReport < reportIntervalMs) {
            this.heldReport ??= setTimeout(() => {
                this.heldReport = undefined;
                this.report(true);
            }, reportIntervalMs - (now - this.lastReport));
            return;
        }
        clearTimeout(this.heldReport);
        this.heldReport = undefined;
        this.lastReport = now;
        onProgress(this.progress.snapshot(now));
    }

    private stopReports(): void {
        clearTimeout(this.heldReport);
        this.heldReport = undefined;
    }
}

/** Downloads `files` into `stagingDir`; on success every one is complete and verified under stagedFilesDir(). */
export async function downloadToStaging(options: StagedDownloadOptions): Promise<void> {
    await mkdir(options.stagingDir, { recursive: true });
    await new StagedDownload(options).run();
}
