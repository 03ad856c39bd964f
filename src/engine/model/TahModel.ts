import type { LlamaModel, Token } from "node-llama-cpp";
import type { TahContext } from "../evaluator/TahContext.js";
import type { PatchedLlama } from "../native/loadPatchedLlama.js";
import type { AddonTahModel, TahModelInfo } from "../native/tahBindings.js";
import { EngineError, engineErrorCodeOf } from "../protocol/EngineError.js";
import { ModelFileError, type ModelFiles, resolveModelFiles } from "./modelFiles.js";

/** Threshold of the reference's evaluation recipe; used when a model does not carry its own. */
export const referenceThreshold = 0.9;

export interface FimTokens {
    prefix: number;
    suffix: number;
    middle: number;
    pad?: number;
    repoName?: number;
    fileSeparator?: number;
}

export interface LoadModelOptions {
    gpuLayers?: number | "auto" | "max";
    signal?: AbortSignal;
    onProgress?: (fraction: number) => void;
}

function tokenizerMetadata(model: LlamaModel): Record<string, unknown> {
    const tokenizer = model.fileInfo.metadata.tokenizer as { ggml?: Record<string, unknown> } | undefined;
    return tokenizer?.ggml ?? {};
}

function metadataToken(ggml: Record<string, unknown>, key: string): number | undefined {
    const value = ggml[key];
    return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** A loaded model: node-llama-cpp's backbone plus, for a TaH model, its LoRA and decider in the native addon. */
export class TahModel {
    private disposed = false;
    /** The contexts made on this model: disposed before it, so that none computes on a freed model. */
    private readonly contexts = new Set<TahContext>();

    private constructor(
        readonly files: ModelFiles,
        readonly patched: PatchedLlama,
        readonly llamaModel: LlamaModel,
        readonly native: AddonTahModel,
        readonly info: TahModelInfo
    ) {}

    static async load(patched: PatchedLlama, modelPath: string, options: LoadModelOptions = {}): Promise<TahModel> {
        const files = resolveModelFiles(modelPath);
        let llamaModel: LlamaModel;
        try {
            llamaModel = await patched.llama.loadModel({
                modelPath: files.backbone,
                gpuLayers: options.gpuLayers ?? (patched.gpu === "cpu" ? 0 : "auto"),
                ...(options.signal !== undefined ? { loadSignal: options.signal } : {}),
                ...(options.onProgress !== undefined ? { onLoadProgress: options.onProgress } : {})
            });
        } catch (error) {
            if (options.signal?.aborted)
                throw error;
            throw new ModelFileError(`cannot load ${files.backbone}: ${error instanceof Error ? error.message : String(error)} (a corrupt, truncated or unsupported GGUF file?)`);
        }
        const architecture: string = llamaModel.fileInfo.metadata.general.architecture;
        if (architecture !== "qwen3" && files.kind === "tah") {
            await llamaModel.dispose();
            throw new ModelFileError(`${files.backbone}: a TaH backbone must be a Qwen3 model, not ${architecture}`);
        }

        // node-llama-cpp keeps its addon model on an @internal field; TaH's addon shares that llama_model
        const addonModel = (llamaModel as unknown as { _model: object })._model;
        const parts = files.kind === "plain" ? {} : files.generation === 2 ? { tah2Path: files.tah2 } : { loraPath: files.lora, deciderPath: files.decider };
        const native = new patched.bindings.AddonTahModel(addonModel, parts);
        try {
            await native.init();
        } catch (error) {
            native.dispose();
            await llamaModel.dispose();
            // the addon sets the code where it knows the cause: modelFile for a decider or LoRA it refuses
            const code = engineErrorCodeOf(error);
            const text = `${files.kind === "tah" ? files.folder : files.backbone}: ${error instanceof Error ? error.message : String(error)}`;
            throw code === "modelFile" ? new ModelFileError(text, { cause: error }) : new EngineError(code, text, { cause: error });
        }
        return new TahModel(files, patched, llamaModel, native, native.getInfo());
    }

    get kind(): "tah" | "plain" {
        return this.info.isTah ? "tah" : "plain";
    }

    /** 1: TaH v1 (soft embedding, LoRA, summed logits); 2: TaH2 (updater, N depths, mixture); undefined: plain. */
    get generation(): 1 | 2 | undefined {
        return this.info.isTah ? this.info.generation : undefined;
    }

    /** The depths a token may run: 1 for a plain model. */
    get maxDepths(): number {
        return this.info.isTah ? this.info.maxIter ?? 2 : 1;
    }

    get name(): string {
        return this.files.name;
    }

    get vocabularySize(): number {
        return this.info.nVocab;
    }

    /** The model's own threshold (from its tah_config.json; TaH2's is 0.5), else the reference evaluation's 0.9. */
    get defaultThreshold(): number {
        // stored as float32: 0.9 reads back as 0.8999999761…
        return this.info.threshold === undefined ? referenceThreshold : Number(this.info.threshold.toPrecision(7));
    }

    /** Fill-in-the-middle tokens as the GGUF metadata declares them; undefined when it declares none. */
    get fimTokens(): FimTokens | undefined {
        const ggml = tokenizerMetadata(this.llamaModel);
        const prefix = metadataToken(ggml, "fim_pre_token_id");
        const suffix = metadataToken(ggml, "fim_suf_token_id");
        const middle = metadataToken(ggml, "fim_mid_token_id");
        if (prefix === undefined || suffix === undefined || middle === undefined)
            return undefined;
        const optional = (key: string, name: keyof FimTokens): Partial<FimTokens> => {
            const token = metadataToken(ggml, key);
            return token === undefined ? {} : { [name]: token };
        };
        return {
            prefix, suffix, middle,
            ...optional("fim_pad_token_id", "pad"),
            ...optional("fim_rep_token_id", "repoName"),
            ...optional("fim_sep_token_id", "fileSeparator")
        };
    }

    get chatTemplate(): string | undefined {
        const template = (this.llamaModel.fileInfo.metadata.tokenizer as { chat_template?: unknown } | undefined)?.chat_template;
        return typeof template === "string" ? template : undefined;
    }

    isEndOfGeneration(token: number): boolean {
        return this.llamaModel.isEogToken(token as Token);
    }

    isSpecial(token: number): boolean {
        return this.llamaModel.isSpecialToken(token as Token);
    }

    /** Control, end-of-generation and user-defined tokens (<think>, FIM markers): never part of code. */
    isMarkupToken(token: number): boolean {
        return this.isSpecial(token) || this.llamaModel.getTokenAttributes(token as Token).userDefined;
    }

    tokenize(text: string, specialTokens = false): number[] {
        return this.llamaModel.tokenize(text, specialTokens);
    }

    detokenize(tokens: readonly number[], specialTokens = false): string {
        return this.llamaModel.detokenize(tokens as readonly Token[], specialTokens);
    }

    /** Called by TahContext.create: from now on the model disposes the context before itself. */
    adopt(context: TahContext): void {
        if (this.disposed)
            throw new EngineError("noModel", "the model is disposed");
        this.contexts.add(context);
    }

    /** Called by a context that was disposed on its own. */
    release(context: TahContext): void {
        this.contexts.delete(context);
    }

    async dispose(): Promise<void> {
        if (this.disposed)
            return;
        this.disposed = true;
        // each context waits for its running step; the native parts they share outlive them anyway (TahModelParts)
        await Promise.all([...this.contexts].map((context) => context.dispose()));
        this.native.dispose();
        await this.llamaModel.dispose();
    }
}
