/**
 * The weights the TaH2 reference consumes (tah2-inference.md §1): a plain Qwen3 backbone that every depth runs, the
 * input updater and the decider. Matrices are torch-shaped and row-major, as in ../tahModel.ts.
 */
import type { Qwen3Weights } from "../tahModel.js";

/** Qwen3MLP without biases: down · (silu(gate · x) ⊙ (up · x)). */
export interface SwiGluWeights {
    /** [width, nEmbd] */
    readonly gate: Float32Array;
    /** [width, nEmbd] */
    readonly up: Float32Array;
    /** [nEmbd, width] */
    readonly down: Float32Array;
    readonly width: number;
}

/** Qwen3MLPUpdater (§1.5, §2.3), with both optional norms enabled, as every recipe has them. */
export interface UpdaterWeights {
    /** norm_prev: [nEmbd], applied to the token embedding */
    readonly normPrev: Float32Array;
    /** norm_last: [nEmbd], applied to the depth's final-normed hidden state */
    readonly normLast: Float32Array;
    /** projection: [nEmbd, 2·nEmbd] */
    readonly projection: Float32Array;
    /** norm_pre_mlp: [nEmbd] */
    readonly normPreMlp: Float32Array;
    readonly mlp: SwiGluWeights;
    /** norm_out: [nEmbd] */
    readonly normOut: Float32Array;
    /** The RMSNorms' epsilon (the class's own rms_norm_eps, not config.json's). */
    readonly eps: number;
}

/** Qwen3MLPIterDecider (§1.6, §2.2). */
export interface Tah2DeciderWeights {
    /** norm_first: [nEmbd], applied to the token embedding */
    readonly normFirst: Float32Array;
    /** norm_last: [nEmbd], applied to the depth's final-normed hidden state */
    readonly normLast: Float32Array;
    /** norm_l: [nEmbd], applied to the top-K probabilities (so K must equal nEmbd) */
    readonly normL: Float32Array;
    /** input_proj: [nEmbd, 3·nEmbd] */
    readonly inputProj: Float32Array;
    readonly mlp: SwiGluWeights;
    /** norm_out: [nEmbd] */
    readonly normOut: Float32Array;
    /** score: [1, nEmbd] */
    readonly score: Float32Array;
    /** How many sorted probabilities the decider reads (topk). */
    readonly topK: number;
    readonly eps: number;
}

export interface Tah2Model {
    readonly backbone: Qwen3Weights;
    readonly updater: UpdaterWeights;
    readonly decider: Tah2DeciderWeights;
    /** D: depths 0 .. D−1; a token always stops at depth D−1. */
    readonly maxIter: number;
    /** The model's own threshold: a token continues iff g > threshold. */
    readonly threshold: number;
}
