/**
 * `tah convert`: a TaH checkpoint (tah-inference.md §1.2) → a TaH model folder (docs/model-format.md). Everything is
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
import { planDecider, type DeciderSummary } from "./iterDecider.js";
import { readJsonFile } from "./jsonFile.js";
import { outputTypes, type OutputTypeName } from "./outputTypes.js";
import { loraMetadata, planLora } from "./peftLora.js";
import { backboneMetadata, planBackbone, readQwen3Config, type BackboneTensor } from "./qwen3Backbone.js";
import { readSafetensorsCheckpoint, tensorChunks, type SafetensorsTensor } from "./safetensors.js";
import { StagedFolder } from "./StagedFolder.js";
import { readTahConfig } from "./tahConfig.js";

/** llama.cpp's quantizer as the native addon exposes it (`bindings.tahQuantize`). */
export type Quantizer = (inputPath: string, outputPath: string, options: { ftype: number; threads: number }) => Promise<void>;

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

export interface ConvertSummary {
    readonly layers: number;
    readonly hiddenSize: number;
    readonly vocabSize: number;
    /** Tokens the tokenizer defines; the rest of vocabSize is padding. */
    readonly definedTokens: number;
    readonly tiedEmbeddings: boolean;
    readonly hasChatTemplate: boolean;
    readonly weightDtypes: readonly FloatDtype[];
    readonly lora: { readonly rank: number; readonly alpha: number; readonly matrices: number };
    readonly decider: DeciderSummary;
}

export interface ConvertResult {
    readonly outDir: string;
    readonly type: OutputTypeName;
    readonly files: readonly { readonly name: string; readonly bytes: number }[];
    readonly summary: ConvertSummary;
}

const fileNames = { backbone: "backbone.gguf", lora: "lora.gguf", decider: "decider.gguf" } as const;

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
        const config = await readQwen3Config(checkpoint);
        const tokenizer = await convertTokenizer({
            dir: checkpoint, vocabSize: config.vocabSize, generationConfig: await readGenerationConfig(checkpoint), config: config.specialIds,
        });
        const backbone = planBackbone(config, await readSafetensorsCheckpoint(checkpoint), checkpoint);
        const lora = await planLora(checkpoint, config);
        const decider = await planDecider(checkpoint, await readTahConfig(checkpoint), config);
        const weightDtypes = new Set(backbone.filter((tensor) => tensor.matrix).map((tensor) => tensor.source.dtype));
        const summary: ConvertSummary = {
            layers: config.nLayer, hiddenSize: config.nEmbd, vocabSize: config.vocabSize, definedTokens: tokenizer.definedTokens,
            tiedEmbeddings: config.tiedEmbeddings, hasChatTemplate: tokenizer.hasChatTemplate, weightDtypes: [...weightDtypes],
            lora: { rank: lora.rank, alpha: lora.alpha, matrices: lora.tensors.length / 2 }, decider: decider.summary,
        };
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

            this.report({ stage: "lora", message: `writing the LoRA (r ${lora.rank}, alpha ${lora.alpha}, ${summary.lora.matrices} projections)` });
            await writeGguf(path.join(staged.path, fileNames.lora), {
                metadata: loraMetadata(lora),
                tensors: lora.tensors.map((tensor): GgufTensor => ({ name: tensor.name, dims: tensor.dims, type: type.lora, data: this.tensorData(tensor.source, type.lora) })),
                sync,
            });
            this.checkAborted();

            this.report({ stage: "decider", message: `writing the decider (threshold ${decider.summary.threshold}: ${decider.summary.thresholdSource})` });
            await writeGguf(path.join(staged.path, fileNames.decider), { metadata: decider.metadata, tensors: decider.tensors, sync });
            const manifest = {
                format: "tah-copilot-model", version: 1, name, ...fileNames,
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
        for (const file of [tahManifestName, fileNames.backbone, fileNames.lora, fileNames.decider])
            files.push({ name: file, bytes: (await stat(path.join(outDir, file))).size });
        this.report({ stage: "done", message: `wrote ${outDir}` });
        return { outDir, type: typeName, files, summary };
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
