import { parseArgs } from "node:util";
import { convertCheckpoint, type ConvertProgress, type ConvertResult, type Quantizer } from "../convert/convertCheckpoint.js";
import { isOutputTypeName, outputTypeNames, outputTypes } from "../convert/outputTypes.js";
import { loadPatchedLlama, type PatchedLlama } from "../engine/native/loadPatchedLlama.js";
import { maxThreads } from "../engine/process/requestSchemas.js";
import { formatBytes } from "../format/formatBytes.js";
import { sigintAbort } from "./sigintAbort.js";
import { UsageError } from "./UsageError.js";

export const convertUsage = `tah convert CHECKPOINT_DIR --out OUT [--type TYPE] [--threads N] [--name NAME] [--force]

Converts a downloaded TaH checkpoint (config.json, model*.safetensors, tokenizer files, lora/,
iter_decider.bin, tah_config.json) into a TaH model folder; point tah.modelPath at OUT.
TYPE is the backbone's weight type: ${outputTypeNames.join(", ")} (default f16).
Quantized types come from llama.cpp's quantizer, run on --threads threads (default: all cores).
OUT appears only when complete; an existing non-empty OUT is replaced only with --force.`;

/** Prints each stage once and the backbone's progress in steps of 10%. */
function progressPrinter(): (progress: ConvertProgress) => void {
    let lastStage = "";
    let lastTenth = 0;
    return (progress) => {
        if (progress.stage !== lastStage) {
            lastStage = progress.stage;
            lastTenth = 0;
            console.log(progress.message);
            return;
        }
        const tenth = Math.floor((progress.fraction ?? 0) * 10);
        if (progress.stage === "backbone" && tenth > lastTenth) {
            lastTenth = tenth;
            console.log(`  ${tenth * 10}%`);
        }
    };
}

function printResult(result: ConvertResult): void {
    const { summary: s } = result;
    console.log(`\n${result.outDir} (${result.type})`);
    console.log(`  Qwen3: ${s.layers} layers, hidden ${s.hiddenSize}, vocabulary ${s.vocabSize} (${s.definedTokens} tokens + ${s.vocabSize - s.definedTokens} padding), ${s.tiedEmbeddings ? "tied" : "untied"} embeddings, weights ${s.weightDtypes.join("/")}${s.hasChatTemplate ? "" : ", no chat template"}`);
    if (s.generation === 2) {
        const t = s.tah2;
        console.log(`  TaH2: ${t.maxIter} depths; updater width ${t.updaterWidth}, decider width ${t.deciderWidth}, top-k ${t.topK}, RMSNorm eps ${t.eps}, stored ${t.storedDtypes.join("/")}`);
        console.log(`  threshold ${t.threshold} (${t.thresholdSource})`);
    } else {
        const d = s.decider;
        console.log(`  LoRA: r ${s.lora.rank}, alpha ${s.lora.alpha} (scale ${s.lora.alpha / s.lora.rank}), ${s.lora.matrices} projections`);
        console.log(`  decider: taps [${d.taps.join(", ")}], width ${d.width}, ${d.blocks} blocks, top-k ${d.logitTopK}, stored ${d.storedDtypes.join("/")}; soft embedding top-k ${d.softEmbeddingTopK}; max_iter ${d.maxIter}`);
        console.log(`  threshold ${d.threshold} (${d.thresholdSource})`);
    }
    const width = Math.max(...result.files.map((file) => file.name.length));
    for (const file of result.files)
        console.log(`  ${file.name.padEnd(width)}  ${formatBytes(file.bytes).padStart(10)}`);
}

function parseConvertArgs(argv: string[]) {
    try {
        return parseArgs({
            args: argv,
            allowPositionals: true,
            options: {
                out: { type: "string" },
                type: { type: "string", default: "f16" },
                threads: { type: "string" },
                name: { type: "string" },
                force: { type: "boolean", default: false },
            },
        });
    } catch (error) {
        // parseArgs' own message ("Unknown option '--x'") is a usage mistake, printed with the usage.
        throw new UsageError((error as Error).message);
    }
}

export async function convertCommand(argv: string[]): Promise<void> {
    const { values, positionals } = parseConvertArgs(argv);
    if (positionals.length !== 1)
        throw new UsageError(positionals.length === 0 ? "give the checkpoint folder" : `give one checkpoint folder, not ${positionals.length}`);
    if (values.out === undefined)
        throw new UsageError("--out is required");
    if (!isOutputTypeName(values.type))
        throw new UsageError(`--type must be one of ${outputTypeNames.join(", ")}, not "${values.type}"`);
    const threads = values.threads === undefined ? undefined : Number(values.threads);
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > maxThreads))
        throw new UsageError(`--threads must be an integer from 1 to ${maxThreads}, not "${values.threads}"`);
    const type = values.type;

    // Ctrl-C once: stop at the next chunk and clean up (the staging folder goes with the process if twice)
    const interrupt = sigintAbort();
    let patched: PatchedLlama | undefined;
    try {
        let quantize: Quantizer | undefined;
        if (outputTypes[type].backbone === "quantize") {
            const llama = await loadPatchedLlama({ gpu: "cpu" });
            patched = llama;
            quantize = (input, output, options) => llama.bindings.tahQuantize(input, output, options);
        }
        const result = await convertCheckpoint({
            checkpointDir: positionals[0],
            outDir: values.out,
            type,
            force: values.force,
            signal: interrupt.signal,
            onProgress: progressPrinter(),
            ...(threads !== undefined ? { threads } : {}),
            ...(values.name !== undefined ? { name: values.name } : {}),
            ...(quantize !== undefined ? { quantize } : {}),
        });
        printResult(result);
    } finally {
        interrupt.dispose();
        await patched?.llama.dispose();
    }
}
