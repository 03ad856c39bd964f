/**
 * The weights the reference consumes. Every matrix is torch-shaped and row-major: a Linear weight of shape
 * [out, in] holds element (o, i) at index o * in + i (the same bytes a GGUF stores with dims [in, out]).
 */

export interface Qwen3Config {
    readonly nLayer: number;
    readonly nEmbd: number;
    readonly nHead: number;
    readonly nHeadKv: number;
    readonly headDim: number;
    readonly nFf: number;
    readonly nVocab: number;
    readonly ropeFreqBase: number;
    readonly rmsEps: number;
}

export interface Qwen3LayerWeights {
    /** [nEmbd] */
    readonly attnNorm: Float32Array;
    /** [nHead·headDim, nEmbd] */
    readonly wq: Float32Array;
    /** [nHeadKv·headDim, nEmbd] */
    readonly wk: Float32Array;
    /** [nHeadKv·headDim, nEmbd] */
    readonly wv: Float32Array;
    /** [nEmbd, nHead·headDim] */
    readonly wo: Float32Array;
    /** [headDim], applied to every query head before RoPE */
    readonly qNorm: Float32Array;
    /** [headDim], applied to every key head before RoPE */
    readonly kNorm: Float32Array;
    /** [nEmbd] */
    readonly ffnNorm: Float32Array;
    /** [nFf, nEmbd] */
    readonly wGate: Float32Array;
    /** [nFf, nEmbd] */
    readonly wUp: Float32Array;
    /** [nEmbd, nFf] */
    readonly wDown: Float32Array;
}

/** The seven projections that carry LoRA (PEFT "all-linear" on Qwen3). */
export const loraTargets = ["wq", "wk", "wv", "wo", "wGate", "wUp", "wDown"] as const;
export type LoraTarget = (typeof loraTargets)[number];

export interface LoraPair {
    /** PEFT lora_A: [rank, in] */
    readonly a: Float32Array;
    /** PEFT lora_B: [out, rank] */
    readonly b: Float32Array;
}

export interface LoraWeights {
    readonly rank: number;
    /** The effective scale is alpha / rank. */
    readonly alpha: number;
    readonly layers: readonly Readonly<Record<LoraTarget, LoraPair>>[];
}

export interface LinearWeights {
    /** [out, in] */
    readonly weight: Float32Array;
    /** [out] */
    readonly bias: Float32Array;
}

export interface LayerNormWeights {
    readonly weight: Float32Array;
    readonly bias: Float32Array;
}

export interface DeciderBlockWeights {
    readonly layerNorm: LayerNormWeights;
    /** mlp.0: [4D, D] */
    readonly up: LinearWeights;
    /** mlp.3: [D, 4D] */
    readonly down: LinearWeights;
}

export interface DeciderWeights {
    /** HF hidden_states indices (input of layer k; 0 = the token embedding), concatenated in this order. */
    readonly taps: readonly number[];
    readonly logitTopK: number;
    readonly width: number;
    readonly layerNormEps: number;
    /** logits_projection: [H, K] */
    readonly logitsProjection: LinearWeights;
    /** combined_projection: [D, nTaps·H + H] */
    readonly combinedProjection: LinearWeights;
    /** backbone.input_projection: [D, D] */
    readonly inputProjection: LinearWeights;
    readonly blocks: readonly DeciderBlockWeights[];
    /** backbone.output_layer.0 (LayerNorm over D) */
    readonly outputNorm: LayerNormWeights;
    /** backbone.output_layer.1: [1, D] */
    readonly output: LinearWeights;
}

/** A plain Qwen3: what TaH's depth 0 and every depth of TaH2 run. */
export interface Qwen3Weights {
    readonly config: Qwen3Config;
    /** [nVocab, nEmbd]; also TaH's soft-embedding matrix, and the output matrix when `output` is null */
    readonly tokenEmbd: Float32Array;
    /** [nEmbd] */
    readonly outputNorm: Float32Array;
    /** [nVocab, nEmbd], or null for tied embeddings */
    readonly output: Float32Array | null;
    readonly layers: readonly Qwen3LayerWeights[];
}

export interface TahModel extends Qwen3Weights {
    readonly lora: LoraWeights;
    readonly decider: DeciderWeights;
    readonly softEmbeddingTopK: number;
    /** The model's own threshold: a token iterates iff P(hard) > threshold. */
    readonly threshold: number;
    /** Total depths; depth 1 runs only when this is at least 2. */
    readonly maxIter: number;
}
