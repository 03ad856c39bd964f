import { add, gelu, layerNorm, matVec, sigmoid, topK, type Vector } from "./numerics.js";
import type { DeciderWeights, LinearWeights } from "./tahModel.js";

export interface DeciderResult {
    /** The decider's logit. */
    readonly z: number;
    /** P(hard) = sigmoid(z). */
    readonly pHard: number;
}

function linear(weights: LinearWeights, x: Vector): Vector {
    const out = weights.bias.length;
    return add(matVec(weights.weight, x, out, x.length), weights.bias);
}

/**
 * MLPIterDecider (tah-inference.md §4.2) on the depth-0 residuals (residuals[k] = HF hidden_states[k]) and the
 * depth-0 logits, of which only the top-K raw values (sorted descending) are used.
 */
export function runDecider(decider: DeciderWeights, residuals: readonly Vector[], logits: Vector): DeciderResult {
    const topValues = Float64Array.from(topK(logits, decider.logitTopK).values);
    const parts = decider.taps.map((tap) => {
        // The last residual is the pre-final-norm output, which HF's hidden_states does not expose; taps stop before it.
        if (!Number.isInteger(tap) || tap < 0 || tap >= residuals.length - 1)
            throw new Error(`decider tap ${tap} is outside 0..${residuals.length - 2}`);
        return residuals[tap];
    });
    parts.push(linear(decider.logitsProjection, topValues));
    const combinedInput = new Float64Array(parts.reduce((n, part) => n + part.length, 0));
    let offset = 0;
    for (const part of parts) {
        combinedInput.set(part, offset);
        offset += part.length;
    }
    let x = linear(decider.inputProjection, linear(decider.combinedProjection, combinedInput));
    for (const block of decider.blocks) {
        const hidden = linear(block.up, layerNorm(x, block.layerNorm.weight, block.layerNorm.bias, decider.layerNormEps));
        x = add(x, linear(block.down, hidden.map(gelu)));
    }
    const z = linear(decider.output, layerNorm(x, decider.outputNorm.weight, decider.outputNorm.bias, decider.layerNormEps))[0];
    return { z, pHard: sigmoid(z) };
}
