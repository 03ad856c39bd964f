import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Quantizer } from "../convert/convertCheckpoint.js";
import { isOutputTypeName, outputTypeNames } from "../convert/outputTypes.js";
import { loadPatchedLlama, type PatchedLlama } from "../engine/native/loadPatchedLlama.js";
import { catalogue, catalogueEntry } from "../models/catalogue.js";
import { HubClient } from "../models/HubClient.js";
import { installFromHub, type InstallResult } from "../models/installFromHub.js";
import { memoryShareForModel } from "../models/memoryEstimate.js";
import { parseRepoRef, type RepoRef } from "../models/repoRef.js";
import { formatBytes } from "../format/formatBytes.js";
import { progressPrinter } from "./pullProgress.js";
import { sigintAbort } from "./sigintAbort.js";
import { UsageError } from "./UsageError.js";

export const pullUsage = `tah pull REPO[@REVISION] [--include GLOB]... [--out OUT] [--type TYPE] [--threads N] [--proxy URL]

Downloads a model from the Hugging Face Hub and makes it ready to use. A TaH checkpoint is converted into the
model folder OUT (what tah.modelPath and tah trace --model take); a GGUF repository's file lands in OUT.
REPO is owner/name or a catalogue id: ${catalogue.map((entry) => entry.id).join(", ")}.
TYPE: for a TaH checkpoint the backbone's type (${outputTypeNames.join(", ")}; default: chosen from this
machine's memory); for a GGUF repository with several quantizations, the one to fetch. --include limits the
files (globs, e.g. '*q8_0.gguf'). OUT defaults to ./NAME.
Every file is checked against the hub's checksum; files land in OUT.download/ and a new run resumes there;
OUT appears only when complete. HF_ENDPOINT and HF_TOKEN are honoured as the hub's own tools honour them;
the proxy comes from --proxy, else HTTPS_PROXY / HTTP_PROXY / NO_PROXY.`;

function parsePullArgs(argv: string[]) {
    try {
        return parseArgs({
            args: argv,
            allowPositionals: true,
            options: {
                include: { type: "string", multiple: true },
                out: { type: "string" },
                type: { type: "string" },
                threads: { type: "string" },
                proxy: { type: "string" },
            },
        });
    } catch (error) {
        // parseArgs' own message ("Unknown option '--x'") is a usage mistake, printed with the usage.
        throw new UsageError((error as Error).message);
    }
}

/** A catalogue id stands for its repository and files; anything else is owner/name[@revision]. */
function resolveRepo(text: string, include: string[] | undefined): { ref: RepoRef; include: readonly string[] | undefined } {
    const entry = catalogueEntry(text);
    if (entry !== undefined)
        return { ref: { repo: entry.repo, revision: entry.revision }, include: include ?? entry.include };
    try {
        return { ref: parseRepoRef(text), include };
    } catch (error) {
        throw new UsageError((error as Error).message);
    }
}

function printResult(result: InstallResult): void {
    console.log(`\n${result.outDir} (${result.kind === "tah" ? `TaH model, ${result.type}` : "GGUF"}, commit ${result.commit.slice(0, 12)})`);
    const choice = result.typeChoice;
    if (choice !== undefined) {
        const share = `${Math.round(memoryShareForModel * 100)}% of this machine's ${formatBytes(os.totalmem())}`;
        console.log(choice.fits
            ? `  type ${choice.type}: the best that fits in ${share} (estimated ${formatBytes(choice.estimate.totalBytes)} loaded)`
            : `  type ${choice.type}: it needs an estimated ${formatBytes(choice.estimate.totalBytes)} loaded (KV cache ${formatBytes(choice.estimate.kvCacheBytes)}), more than ${share}: use a shorter tah.contextSize`);
    }
    for (const file of result.files)
        console.log(`  ${file}`);
    for (const gguf of result.gguf ?? [])
        console.log(`  ${gguf.file}: ${gguf.architecture ?? "unknown architecture"}, ${gguf.fim ? "fill-in-the-middle tokens: ghost text uses them" : "no fill-in-the-middle tokens: ghost text sees the prefix only"}`);
}

export async function pullCommand(argv: string[]): Promise<void> {
    const { values, positionals } = parsePullArgs(argv);
    if (positionals.length !== 1)
        throw new UsageError(positionals.length === 0 ? "give the repository (owner/name[@revision]) or a catalogue id" : `give one repository, not ${positionals.length}`);
    if (values.type !== undefined && !isOutputTypeName(values.type))
        throw new UsageError(`--type must be one of ${outputTypeNames.join(", ")}, not "${values.type}"`);
    const threads = values.threads === undefined ? undefined : Number(values.threads);
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1))
        throw new UsageError(`--threads must be a positive integer, not "${values.threads}"`);
    const type = values.type;
    const { ref, include } = resolveRepo(positionals[0], values.include);
    const outDir = values.out ?? path.join(".", ref.repo.split("/")[1]);

    // Ctrl-C once: stop and keep what was downloaded for the next run
    const interrupt = sigintAbort();
    const client = new HubClient(values.proxy !== undefined ? { proxy: values.proxy } : {});
    const printer = progressPrinter(process.stdout);
    // llama.cpp's quantizer, loaded only when a conversion to a quantized type needs it.
    let patched: PatchedLlama | undefined;
    const quantize: Quantizer = async (input, output, options) => {
        patched ??= await loadPatchedLlama({ gpu: "cpu" });
        return patched.bindings.tahQuantize(input, output, options);
    };
    try {
        const result = await installFromHub({
            client,
            ref,
            outDir,
            quantize,
            signal: interrupt.signal,
            onProgress: printer.onProgress,
            ...(include !== undefined ? { include } : {}),
            ...(type !== undefined ? { type } : {}),
            ...(threads !== undefined ? { threads } : {}),
        });
        printer.finish();
        printResult(result);
    } finally {
        printer.finish();
        interrupt.dispose();
        await client.close();
        await patched?.llama.dispose();
    }
}
