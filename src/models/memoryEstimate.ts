/**
 * How much memory a model takes when loaded, and the weight type a machine should convert a TaH checkpoint to.
 * An estimate from the model's shape, llama.cpp's storage per type and the engine's layout (a unified f16 KV cache
 * for all sequences, logits for a whole batch for the decider), not a measurement; it errs on the large side.
 */
import type { OutputTypeName } from "../convert/outputTypes.js";
import type { Qwen3Config } from "../convert/qwen3Backbone.js";

/** The part of a Qwen3 config (src/convert/qwen3Backbone.ts reads it from config.json) that sizes a model. */
export type ModelShape = Pick<Qwen3Config, "nLayer" | "nEmbd" | "nFf" | "nHead" | "nHeadKv" | "headDim" | "vocabSize" | "tiedEmbeddings">;

/** The TaH parts beyond the backbone. */
export interface TahShape {
    readonly loraRank: number;
    /** Share of tokens that take the second pass (their depth-1 KV cells); default 0.15. */
    readonly iterateShare?: number;
}

/**
 * Bits per weight of llama.cpp's types (block size and scales included). The K-quant mixes keep some matrices
 * at a higher type; the figures are llama.cpp's published averages for 7B-class models.
 */
export const bitsPerWeight: Readonly<Record<OutputTypeName, number>> = {
    f32: 32, f16: 16, bf16: 16,
    q8_0: 8.5, q6_k: 6.56, q5_k_m: 5.69, q5_k_s: 5.54, q5_1: 6, q5_0: 5.5,
    q4_k_m: 4.89, q4_k_s: 4.58, q4_1: 5, q4_0: 4.5,
    q3_k_l: 4.27, q3_k_m: 3.91, q3_k_s: 3.5, q2_k: 3.0,
};

export function parameterCount(s: ModelShape): number {
    const attention = s.nEmbd * s.nHead * s.headDim * 2 + s.nEmbd * s.nHeadKv * s.headDim * 2;
    const mlp = 3 * s.nEmbd * s.nFf;
    const norms = 2 * s.nEmbd + 2 * s.headDim;
    const embeddings = s.vocabSize * s.nEmbd * (s.tiedEmbeddings ? 1 : 2);
    return s.nLayer * (attention + mlp + norms) + embeddings + s.nEmbd;
}

/** The LoRA's parameters on q, k, v, o, gate, up and down of every layer. */
export function loraParameterCount(s: ModelShape, rank: number): number {
    const q = s.nHead * s.headDim;
    const kv = s.nHeadKv * s.headDim;
    const perLayer = (s.nEmbd + q) * 2 + (s.nEmbd + kv) * 2 + (s.nEmbd + s.nFf) * 3;
    return s.nLayer * perLayer * rank;
}

export interface MemoryEstimateOptions {
    readonly type: OutputTypeName;
    readonly tah?: TahShape;
    /** KV cells: tokens per sequence × sequences. Default 8192 × 3 (completion, chat, file analysis). */
    readonly contextTokens?: number;
    /** Tokens per decode batch; default 512. */
    readonly batchTokens?: number;
}

export interface MemoryEstimate {
    /** The model files' size: backbone, and for TaH the LoRA (16-bit) and the decider. */
    readonly weightsBytes: number;
    readonly kvCacheBytes: number;
    /** Compute buffers: a batch's logits (the decider reads every token's) and activations. */
    readonly computeBytes: number;
    readonly totalBytes: number;
}

/** The decider is a small MLP; its size is bounded by a few MB for the published shapes. */
const deciderBytes = 16 * 2 ** 20;
/** The engine process itself: Node, llama.cpp's state, the tokenizer. */
const runtimeBytes = 256 * 2 ** 20;

export function estimateMemory(shape: ModelShape, options: MemoryEstimateOptions): MemoryEstimate {
    const backbone = (parameterCount(shape) * bitsPerWeight[options.type]) / 8;
    const tahBytes = options.tah === undefined ? 0 : loraParameterCount(shape, options.tah.loraRank) * 2 + deciderBytes;
    const weightsBytes = Math.ceil(backbone + tahBytes);
    const cells = (options.contextTokens ?? 8192 * 3) * (1 + (options.tah === undefined ? 0 : options.tah.iterateShare ?? 0.15));
    const kvCacheBytes = Math.ceil(cells * shape.nLayer * shape.nHeadKv * shape.headDim * 2 * 2);
    const batch = options.batchTokens ?? 512;
    const computeBytes = batch * (shape.vocabSize + 4 * shape.nFf + 4 * shape.nEmbd) * 4;
    return { weightsBytes, kvCacheBytes, computeBytes, totalBytes: weightsBytes + kvCacheBytes + computeBytes + runtimeBytes };
}

/**
 * Best first: q8_0 is close to lossless at half of f16's memory. Below q4_k_m quality drops fast at these sizes, and
 * the KV cache, which no weight type shrinks, is often what does not fit; so q4_k_m is the floor, and a machine
 * where it does not fit is told to shorten the context rather than given a broken model.
 */
export const defaultTypeOrder: readonly OutputTypeName[] = ["q8_0", "q6_k", "q5_k_m", "q4_k_m"];

/** The share of the machine's memory a model may take by default: the editor, the OS and other programs need the rest. */
export const memoryShareForModel = 0.5;

export interface TypeChoice {
    readonly type: OutputTypeName;
    readonly estimate: MemoryEstimate;
    /** False when even the last type of the order exceeds the share: it is chosen anyway, and the caller warns. */
    readonly fits: boolean;
}

export function chooseDefaultType(shape: ModelShape, totalMemoryBytes: number, options: Omit<MemoryEstimateOptions, "type"> = {}): TypeChoice {
    const budget = totalMemoryBytes * memoryShareForModel;
    for (const type of defaultTypeOrder) {
        const estimate = estimateMemory(shape, { ...options, type });
        if (estimate.totalBytes <= budget)
            return { type, estimate, fits: true };
    }
    const smallest = defaultTypeOrder[defaultTypeOrder.length - 1];
    return { type: smallest, estimate: estimateMemory(shape, { ...options, type: smallest }), fits: false };
}
