/**
 * `tah convert`: a TaH checkpoint — v1 (tah-inference.md §1.2) or TaH2 (tah2-inference.md §1.1), told apart by its
 * files — → a TaH model folder (docs/model-format.md). Everything is
 * read and checked first — configs, tokenizer, tensor headers and shapes, the decider pickle — so a bad checkpoint
 * fails before anything is written. Then the files are written into a staging folder that is renamed to the
 * output at the end; a failure or an abort removes it, so the output folder is complete or absent.
 */
import { existsSync, statSync } from "node:fs";
import { rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { tahManifestName } from "../engine/model/modelFiles.js";
import { GgmlType, type GgufMetadata } from "../gguf/ggufTypes.js";
import { writeGguf, type GgufTensor } from "../gguf/ggufWriter.js";
import { EngineError } from "../engine/protocol/EngineError.js";
import { convertChunks, ggufTypeOfDtype, type FloatDtype, type GgufFloatType } from "./floatData.js";
import { convertTokenizer, specialIdsSchema, type SpecialIds } from "./hfTokenizer.js";
import { planDecider, type DeciderPlan, type DeciderSummary } from "./iterDecider.js";
import { readJsonFile } from "./jsonFile.js";
import { outputTypes, type OutputTypeName } from "./outputTypes.js";
import { loraMetadata, planLora, type LoraPlan } from "./peftLora.js";
import { backboneMetadata, planBackbone, readQwen3Config, type BackboneTensor } from "./qwen3Backbone.js";
import { readSafetensorsCheckpoint, tensorChunks, type SafetensorsTensor } from "./safetensors.js";
import { StagedFolder } from "./StagedFolder.js";
import { planTah2Nets, type Tah2Plan, type Tah2Summary } from "./tah2Nets.js";
import { checkpointGeneration, readTahConfig } from "./tahConfig.js";

/** llama.cpp's quantizer as the native addon exposes it (`bindings.tahQuantize`). */
export type Quantizer = (inputPath: string, outputPath: string, options: { ftype: number; threads: number }) => Promise<void>;

/** TaH2's updater and decider are written in the "decider" stage. */
export type ConvertStage = "read" | "backbone" | "quantize" | "lora" | "decider" | "done";

export interface ConvertProgress {
    readonly stage: ConvertStage;
    readonly message: string;
    /** Share of the stage done, where it is measured (the backbone's bytes). */
    readonly fraction?: number;
}

export interface ConvertOptions {
    readonly checkpointDir: string;
    readonly outDir: string;
    /** Default f16. */
    readonly type?: OutputTypeName;
    /** Quantizer threads; default: all cores. */
    readonly threads?: number;
    /** Replace a non-empty output folder. */
    readonly force?: boolean;
    /** general.name and the manifest's name; default: the checkpoint folder's name. */
    readonly name?: string;
    /** Needed for quantized types only. */
    readonly quantize?: Quantizer;
    readonly signal?: AbortSignal;
    readonly onProgress?: (progress: ConvertProgress) => void;
    /** Flush files to disk before renaming them into place (default true). Throwaway test output may skip it. */
    readonly sync?: boolean;
}

interface BackboneSummary {
    readonly layers: number;
    readonly hiddenSize: number;
    readonly vocabSize: number;
    /** Tokens the tokenizer defines; the rest of vocabSize is padding. */
    readonly definedTokens: number;
    readonly tiedEmbeddings: boolean;
    readonly hasChatTemplate: boolean;
    readonly weightDtypes: readonly FloatDtype[];
}

/** TaH v1: the depth-1 LoRA and the decider. */
export interface Tah1ConvertSummary extends BackboneSummary {
    readonly generation: 1;
    readonly lora: { readonly rank: number; readonly alpha: number; readonly matrices: number };
    readonly decider: DeciderSummary;
}

/** TaH2: the input updater and the decider. */
export interface Tah2ConvertSummary extends BackboneSummary {
    readonly generation: 2;
    readonly tah2: Tah2Summary;
}

export type ConvertSummary = Tah1ConvertSummary | Tah2ConvertSummary;

/** What a generation adds to the backbone, read and checked. */
type GenerationPlan = { readonly generation: 1; readonly lora: LoraPlan; readonly decider: DeciderPlan } | { readonly generation: 2; readonly tah2: Tah2Plan };

export interface ConvertResult {
    readonly outDir: string;
    readonly type: OutputTypeName;
    readonly files: readonly { readonly name: string; readonly bytes: number }[];
    readonly summary: ConvertSummary;
}

const fileNames = { backbone: "backbone.gguf", lora: "lora.gguf", decider: "decider.gguf", tah2: "tah2.gguf" } as const;

async function readGenerationConfig(dir: string): Promise<SpecialIds> {
    const file = path.join(dir, "generation_config.json");
    // Optional: config.json and tokenizer_config.json name the special tokens too.
    return existsSync(file) ? readJsonFile(file, specialIdsSchema) : {};
}

/** general.file_type of a float file: the one dtype its matrices share, else "mostly F16". */
function fileTypeOf(dtypes: ReadonlySet<FloatDtype>): number {
    const only = dtypes.size === 1 ? [...dtypes][0] : undefined;
    return only === "F32" ? outputTypes.f32.ftype : only === "BF16" ? outputTypes.bf16.ftype : outputTypes.f16.ftype;
}

class Converter {
    private readonly signal: AbortSignal | undefined;
    private readonly report: (progress: ConvertProgress) => void;

    constructor(private readonly options: ConvertOptions) {
        this.signal = options.signal;
        this.report = options.onProgress ?? (() => undefined);
    }

    private checkAborted(): void {
        if (this.signal?.aborted)
            throw new EngineError("aborted", `interrupted; nothing was written to ${path.resolve(this.options.outDir)}`);
    }

    /** The tensor's stored bytes, checking for an abort between chunks and counting progress. */
    private async *sourceChunks(source: SafetensorsTensor, onBytes?: (bytes: number) => void): AsyncGenerator<Uint8Array> {
        for await (const chunk of tensorChunks(source)) {
            this.checkAborted();
            onBytes?.(chunk.byteLength);
            yield chunk;
        }
    }

    /** The tensor's data converted to `type`, streamed. */
    private tensorData(source: SafetensorsTensor, type: GgufFloatType, onBytes?: (bytes: number) => void): AsyncIterable<Uint8Array> {
        return convertChunks(this.sourceChunks(source, onBytes), source.dtype, type);
    }

    async run(): Promise<ConvertResult> {
        const o = this.options;
        const checkpoint = path.resolve(o.checkpointDir);
        const outDir = path.resolve(o.outDir);
        const typeName = o.type ?? "f16";
        const type = outputTypes[typeName];
        if (!existsSync(checkpoint) || !statSync(checkpoint).isDirectory())
            throw new EngineError("modelFile", `${checkpoint} is not a folder (give the folder of a downloaded TaH checkpoint)`);
        const relative = path.relative(outDir, checkpoint);
        if (relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative)))
            throw new EngineError("modelFile", `the output ${outDir} would contain the checkpoint ${checkpoint}; choose another --out`);
        if (type.backbone === "quantize" && o.quantize === undefined)
            throw new Error(`--type ${typeName} needs llama.cpp's quantizer (pass options.quantize)`);

        // Read and check everything before writing anything.
        this.report({ stage: "read", message: `reading ${checkpoint}` });
        const generation = await checkpointGeneration(checkpoint);
        if (generation === "plain")
            throw new EngineError("modelFile", `${path.join(checkpoint, "tah_config.json")} is missing: without it the folder holds a plain checkpoint, not a TaH one; convert it with llama.cpp's convert_hf_to_gguf.py and load the .gguf as a plain model`);
        const config = await readQwen3Config(checkpoint);
        const tokenizer = await convertTokenizer({
            dir: checkpoint, vocabSize: config.vocabSize, generationConfig: await readGenerationConfig(checkpoint), config: config.specialIds,
        });
        const backbone = planBackbone(config, await readSafetensorsCheckpoint(checkpoint), checkpoint);
        const plan: GenerationPlan = generation === 2
            ? { generation, tah2: await planTah2Nets(checkpoint, config) }
            : { generation, lora: await planLora(checkpoint, config), decider: await planDecider(checkpoint, await readTahConfig(checkpoint), config) };
        const weightDtypes = new Set(backbone.filter((tensor) => tensor.matrix).map((tensor) => tensor.source.dtype));
        const backboneSummary: BackboneSummary = {
            layers: config.nLayer, hiddenSize: config.nEmbd, vocabSize: config.vocabSize, definedTokens: tokenizer.definedTokens,
            tiedEmbeddings: config.tiedEmbeddings, hasChatTemplate: tokenizer.hasChatTemplate, weightDtypes: [...weightDtypes],
        };
        const summary: ConvertSummary = plan.generation === 2
            ? { ...backboneSummary, generation: 2, tah2: plan.tah2.summary }
            : { ...backboneSummary, generation: 1, lora: { rank: plan.lora.rank, alpha: plan.lora.alpha, matrices: plan.lora.tensors.length / 2 }, decider: plan.decider.summary };
        this.checkAborted();

        const name = o.name ?? path.basename(checkpoint);
        const sync = o.sync ?? true;
        const staged = await StagedFolder.create(outDir, o.force ?? false);
        try {
            const backbonePath = path.join(staged.path, fileNames.backbone);
            const metadata = { ...backboneMetadata(config, name, type.backbone === "quantize" ? fileTypeOf(weightDtypes) : type.ftype), ...tokenizer.metadata };
            if (type.backbone === "quantize") {
                // A lossless intermediate (each matrix in its stored dtype) for llama.cpp's quantizer.
                const source = path.join(staged.path, "backbone.source.gguf");
                await this.writeBackbone(source, backbone, metadata, undefined, sync);
                this.checkAborted();
                this.report({ stage: "quantize", message: `quantizing the backbone to ${typeName} with llama.cpp` });
                const threads = o.threads ?? os.availableParallelism();
                await o.quantize!(source, backbonePath, { ftype: type.ftype, threads }).catch((error: unknown) => {
                    throw new EngineError("modelFile", `llama.cpp could not quantize the backbone to ${typeName}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
                });
                await rm(source);
            } else {
                await this.writeBackbone(backbonePath, backbone, metadata, type.backbone, sync);
            }
            this.checkAborted();

            const parts = plan.generation === 2 ? await this.writeTah2(staged.path, plan.tah2, sync) : await this.writeTah1(staged.path, plan.lora, plan.decider, type.lora, sync);
            const manifest = {
                format: "tah-copilot-model", version: 1, name, backbone: fileNames.backbone, ...parts,
                // the folder's name, not its path: a model folder is shared and shipped, the converting machine's paths are not
                source: { checkpoint: path.basename(checkpoint), type: typeName },
            };
            await writeFile(path.join(staged.path, tahManifestName), `${JSON.stringify(manifest, null, 4)}\n`);
            this.checkAborted();
            await staged.commit();
        } catch (error) {
            await staged.discard();
            throw error;
        }

        const files = [];
        for (const file of [tahManifestName, fileNames.backbone, ...(plan.generation === 2 ? [fileNames.tah2] : [fileNames.lora, fileNames.decider])])
            files.push({ name: file, bytes: (await stat(path.join(outDir, file))).size });
        this.report({ stage: "done", message: `wrote ${outDir}` });
        return { outDir, type: typeName, files, summary };
    }

    /** Writes v1's LoRA and decider; returns the manifest's entries for them. */
    private async writeTah1(dir: string, lora: LoraPlan, decider: DeciderPlan, loraType: GgufFloatType, sync: boolean): Promise<Record<string, unknown>> {
        this.report({ stage: "lora", message: `writing the LoRA (r ${lora.rank}, alpha ${lora.alpha}, ${lora.tensors.length / 2} projections)` });
        await writeGguf(path.join(dir, fileNames.lora), {
            metadata: loraMetadata(lora),
            tensors: lora.tensors.map((tensor): GgufTensor => ({ name: tensor.name, dims: tensor.dims, type: loraType, data: this.tensorData(tensor.source, loraType) })),
            sync,
        });
        this.checkAborted();

        this.report({ stage: "decider", message: `writing the decider (threshold ${decider.summary.threshold}: ${decider.summary.thresholdSource})` });
        await writeGguf(path.join(dir, fileNames.decider), { metadata: decider.metadata, tensors: decider.tensors, sync });
        // v1 runs two depths at most, whatever its decider's own max_iter says
        return { generation: 1, maxIter: Math.min(2, decider.summary.maxIter), lora: fileNames.lora, decider: fileNames.decider };
    }

    /** Writes TaH2's updater and decider; returns the manifest's entries for them. */
    private async writeTah2(dir: string, tah2: Tah2Plan, sync: boolean): Promise<Record<string, unknown>> {
        const s = tah2.summary;
        this.report({ stage: "decider", message: `writing the updater and the decider (${s.maxIter} depths, threshold ${s.threshold}: ${s.thresholdSource})` });
        await writeGguf(path.join(dir, fileNames.tah2), { metadata: tah2.metadata, tensors: tah2.tensors, sync });
        return { generation: 2, maxIter: s.maxIter, tah2: fileNames.tah2 };
    }

    /** Writes the backbone; matrices in `matrixType`, or in their stored dtype when it is undefined. */
    private async writeBackbone(file: string, tensors: readonly BackboneTensor[], metadata: GgufMetadata, matrixType: GgufFloatType | undefined, sync: boolean): Promise<void> {
        const total = tensors.reduce((sum, tensor) => sum + tensor.source.byteLength, 0);
        let done = 0;
        let reported = -1;
        const onBytes = (bytes: number): void => {
            done += bytes;
            const percent = Math.floor((100 * done) / total);
            if (percent !== reported) {
                reported = percent;
                this.report({ stage: "backbone", message: `writing the backbone: ${percent}%`, fraction: done / total });
            }
        };
        this.report({ stage: "backbone", message: `writing the backbone (${tensors.length} tensors)`, fraction: 0 });
        await writeGguf(file, {
            metadata,
            tensors: tensors.map((tensor): GgufTensor => {
                // Norms stay F32 whatever the output type, as llama.cpp's converter keeps 1-D tensors.
                const type = !tensor.matrix ? GgmlType.F32 : matrixType ?? ggufTypeOfDtype[tensor.source.dtype];
                return { name: tensor.name, dims: tensor.dims, type, data: this.tensorData(tensor.source, type, onBytes) };
            }),
            sync,
        });
    }
}

/** Converts a TaH checkpoint folder into a TaH model folder; see ConvertOptions. */
export function convertCheckpoint(options: ConvertOptions): Promise<ConvertResult> {
    return new Converter(options).run();
}
