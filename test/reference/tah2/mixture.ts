/** TaH2's output, `stop_prob_mix` (tah2-inference.md §2.5): per-depth distributions weighted by stop probabilities. */
import { type Vector } from "../numerics.js";

/** Where the depths are combined: their probabilities (correct) or their logits (a negative control). */
export type MixingSpace = "probabilities" | "logits";

/** Upstream clamps each weight before its log (tah_runtime.py), so a vanishing weight stays finite. */
const minWeight = 1e-10;

/**
 * The weight of each executed depth: w_d = r_d·(1 − g_d) where the token continued past d, the whole remaining mass
 * r_d at the depth where it stopped; r_0 = 1, r_{d+1} = r_d·g_d. `continueProbs[d]` is g_d for every depth the token
 * continued after, so there is one executed depth more than there are continue probabilities.
 */
export function mixtureWeights(continueProbs: readonly number[]): number[] {
    const weights: number[] = [];
    let remaining = 1;
    for (const g of continueProbs) {
        weights.push(remaining * (1 - g));
        remaining *= g;
    }
    weights.push(remaining);
    return weights;
}

function logSoftmax(values: Vector): Vector {
    let max = -Infinity;
    for (const value of values)
        max = Math.max(max, value);
    let sum = 0;
    for (const value of values)
        sum += Math.exp(value - max);
    const logSum = max + Math.log(sum);
    return values.map((value) => value - logSum);
}

/**
 * log P with P = Σ_d w_d · softmax(ℓ_d), built in log space as upstream does: logsumexp over d of
 * log(max(w_d, 1e-10)) + log_softmax(ℓ_d). The "logits" control instead returns log_softmax(Σ_d w_d · ℓ_d).
 */
export function mixLogProbabilities(logits: readonly Vector[], weights: readonly number[], space: MixingSpace = "probabilities"): Vector {
    if (logits.length === 0 || logits.length !== weights.length)
        throw new Error(`${logits.length} depths of logits for ${weights.length} weights`);
    const nVocab = logits[0].length;
    if (space === "logits") {
        const mixed = new Float64Array(nVocab);
        logits.forEach((depth, d) => {
            for (let v = 0; v < nVocab; v++)
                mixed[v] += weights[d] * depth[v];
        });
        return logSoftmax(mixed);
    }
    const terms = logits.map((depth, d) => {
        const logWeight = Math.log(Math.max(weights[d], minWeight));
        return logSoftmax(depth).map((value) => value + logWeight);
    });
    const out = new Float64Array(nVocab);
    for (let v = 0; v < nVocab; v++) {
        let max = -Infinity;
        for (const term of terms)
            max = Math.max(max, term[v]);
        let sum = 0;
        for (const term of terms)
            sum += Math.exp(term[v] - max);
        out[v] = max + Math.log(sum);
    }
    return out;
}
