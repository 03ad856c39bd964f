/** TaH2's two small networks in float64: the input updater (tah2-inference.md §2.3) and the decider (§2.2). */
import { matVec, rmsNorm, sigmoid, silu, softmax, topK, type Vector } from "../numerics.js";
import type { SwiGluWeights, Tah2DeciderWeights, UpdaterWeights } from "./tah2Model.js";

function swiGlu(mlp: SwiGluWeights, x: Vector): Vector {
    const n = x.length;
    const gate = matVec(mlp.gate, x, mlp.width, n);
    const up = matVec(mlp.up, x, mlp.width, n);
    const act = new Float64Array(mlp.width);
    for (let i = 0; i < mlp.width; i++)
        act[i] = silu(gate[i]) * up[i];
    return matVec(mlp.down, act, n, mlp.width);
}

function concat(parts: readonly Vector[]): Vector {
    const out = new Float64Array(parts.reduce((n, part) => n + part.length, 0));
    let offset = 0;
    for (const part of parts) {
        out.set(part, offset);
        offset += part.length;
    }
    return out;
}

/**
 * The next depth's input: norm_out(MLP(norm_pre_mlp(projection · [norm_prev(e0) ‖ norm_last(h)]))). `anchor` is the
 * token's original embedding E[x] at every depth.
 */
export function runUpdater(updater: UpdaterWeights, anchor: ArrayLike<number>, hidden: Vector): Vector {
    const n = hidden.length;
    const joined = concat([rmsNorm(anchor, updater.normPrev, updater.eps), rmsNorm(hidden, updater.normLast, updater.eps)]);
    const projected = rmsNorm(matVec(updater.projection, joined, n, 2 * n), updater.normPreMlp, updater.eps);
    return rmsNorm(swiGlu(updater.mlp, projected), updater.normOut, updater.eps);
}

/** What the decider ranks: the depth's softmax probabilities (correct) or its raw logits (a negative control). */
export type DeciderRanking = "probabilities" | "logits";

/** The K largest values of softmax(logits) (or of the logits), descending, zero-padded to K when V < K. */
export function deciderTopValues(logits: Vector, k: number, ranking: DeciderRanking): Vector {
    const source = ranking === "probabilities" ? softmax(logits) : logits;
    const out = new Float64Array(k);
    out.set(topK(source, Math.min(k, source.length)).values);
    return out;
}

export interface Tah2Decision {
    /** The decision logit. */
    readonly z: number;
    /** The continue probability σ(z). */
    readonly g: number;
}

/**
 * norm_out(MLP(input_proj · [norm_first(e0) ‖ norm_last(h) ‖ norm_l(top-K)])): the vector the score row is dotted
 * with, from the token's embedding, the depth's final-normed hidden state and that depth's own logits.
 */
export function deciderScoreInput(decider: Tah2DeciderWeights, embedding: ArrayLike<number>, hidden: Vector, logits: Vector, ranking: DeciderRanking = "probabilities"): Vector {
    const n = hidden.length;
    const top = deciderTopValues(logits, decider.topK, ranking);
    if (top.length !== decider.normL.length)
        throw new Error(`the decider's top-${decider.topK} vector meets norm_l of ${decider.normL.length} weights (upstream requires topk = hidden_size)`);
    const joined = concat([
        rmsNorm(embedding, decider.normFirst, decider.eps),
        rmsNorm(hidden, decider.normLast, decider.eps),
        rmsNorm(top, decider.normL, decider.eps),
    ]);
    return rmsNorm(swiGlu(decider.mlp, matVec(decider.inputProj, joined, n, 3 * n)), decider.normOut, decider.eps);
}

export function runTah2Decider(decider: Tah2DeciderWeights, embedding: ArrayLike<number>, hidden: Vector, logits: Vector, ranking: DeciderRanking = "probabilities"): Tah2Decision {
    const x = deciderScoreInput(decider, embedding, hidden, logits, ranking);
    const z = matVec(decider.score, x, 1, x.length)[0];
    return { z, g: sigmoid(z) };
}
