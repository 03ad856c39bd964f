import type { KvStore, Slot, Visibility } from "./kvStore.js";
import { add, matVec, rmsNorm, silu, softmax, type Vector } from "./numerics.js";
import type { LoraPair, LoraTarget, LoraWeights, Qwen3LayerWeights, Qwen3Weights } from "./tahModel.js";

export interface ForwardInput extends Slot {
    /** The layer-0 input: a token embedding row (depth 0), TaH's soft embedding or TaH2's updater output (deeper). */
    readonly embedding: ArrayLike<number>;
}

export interface ForwardOutput {
    /** residuals[k] = the input of layer k (HF hidden_states[k]; 0 = the embedding); residuals[nLayer] = pre-final-norm output. */
    readonly residuals: Vector[];
    /** The final-normed hidden state: the output matrix's input. */
    readonly normed: Vector;
    readonly logits: Vector;
}

export interface ForwardOptions {
    /** Apply the LoRA (scale alpha/rank) to all seven projections. */
    readonly lora: boolean;
    readonly visible: Visibility;
}

/**
 * Runs a batch through the Qwen3 backbone. Every input gets a new KV entry at its slot; each layer first writes the keys
 * and values of the whole batch, then every query attends over all stored entries its visibility rule allows — so a
 * batch gives the same result as feeding its inputs one at a time in an order that respects the rule.
 */
export function qwen3Forward(model: Qwen3Weights & { readonly lora?: LoraWeights }, store: KvStore, inputs: readonly ForwardInput[], options: ForwardOptions): ForwardOutput[] {
    const { nLayer, nEmbd, nHead, nHeadKv, headDim, nFf, nVocab, rmsEps } = model.config;
    const lora = model.lora;
    if (options.lora && lora === undefined)
        throw new Error("the forward pass was asked to apply a LoRA the model does not have");
    const entries = inputs.map((input) => store.add({ position: input.position, depth: input.depth }));
    const residuals: Vector[][] = inputs.map((input) => {
        if (input.embedding.length !== nEmbd)
            throw new Error(`input embedding has ${input.embedding.length} values, expected ${nEmbd}`);
        return [Float64Array.from(input.embedding)];
    });
    const project = (layer: number, target: LoraTarget, weights: Qwen3LayerWeights, x: Vector, out: number, inp: number): Vector => {
        const y = matVec(weights[target], x, out, inp);
        return options.lora && lora !== undefined ? addLora(y, lora.layers[layer][target], x, lora.rank, lora.alpha / lora.rank) : y;
    };

    for (let layer = 0; layer < nLayer; layer++) {
        const w = model.layers[layer];
        const queries: Vector[] = [];
        for (let b = 0; b < inputs.length; b++) {
            const x = residuals[b][layer];
            const h = rmsNorm(x, w.attnNorm, rmsEps);
            const q = project(layer, "wq", w, h, nHead * headDim, nEmbd);
            const k = project(layer, "wk", w, h, nHeadKv * headDim, nEmbd);
            const v = project(layer, "wv", w, h, nHeadKv * headDim, nEmbd);
            const position = inputs[b].position;
            queries.push(normAndRope(q, nHead, headDim, w.qNorm, rmsEps, position, model.config.ropeFreqBase));
            store.setLayer(layer, entries[b], normAndRope(k, nHeadKv, headDim, w.kNorm, rmsEps, position, model.config.ropeFreqBase), v);
        }
        for (let b = 0; b < inputs.length; b++) {
            const x = residuals[b][layer];
            const attention = attend(store, layer, inputs[b], queries[b], model, options.visible);
            const afterAttention = add(x, project(layer, "wo", w, attention, nEmbd, nHead * headDim));
            const h = rmsNorm(afterAttention, w.ffnNorm, rmsEps);
            const gate = project(layer, "wGate", w, h, nFf, nEmbd);
            const up = project(layer, "wUp", w, h, nFf, nEmbd);
            const act = new Float64Array(nFf);
            for (let i = 0; i < nFf; i++)
                act[i] = silu(gate[i]) * up[i];
            residuals[b].push(add(afterAttention, project(layer, "wDown", w, act, nEmbd, nFf)));
        }
    }

    return residuals.map((states) => {
        const normed = rmsNorm(states[nLayer], model.outputNorm, rmsEps);
        return { residuals: states, normed, logits: matVec(model.output ?? model.tokenEmbd, normed, nVocab, nEmbd) };
    });
}

/** y + scale · B (A x). */
function addLora(y: Vector, pair: LoraPair, x: Vector, rank: number, scale: number): Vector {
    const ax = matVec(pair.a, x, rank, x.length);
    const bax = matVec(pair.b, ax, y.length, rank);
    const out = new Float64Array(y.length);
    for (let i = 0; i < y.length; i++)
        out[i] = y[i] + scale * bax[i];
    return out;
}

/** Per-head RMSNorm, then NEOX-style RoPE (rotate_half: pairs (i, i + headDim/2)) at the token's position. */
function normAndRope(x: Vector, heads: number, headDim: number, norm: Float32Array, eps: number, position: number, base: number): Vector {
    const out = new Float64Array(x.length);
    const half = headDim / 2;
    for (let head = 0; head < heads; head++) {
        const normed = rmsNorm(x.subarray(head * headDim, (head + 1) * headDim), norm, eps);
        for (let i = 0; i < half; i++) {
            const angle = position * Math.pow(base, (-2 * i) / headDim);
            const cos = Math.cos(angle);
            const sin = Math.sin(angle);
            out[head * headDim + i] = normed[i] * cos - normed[i + half] * sin;
            out[head * headDim + i + half] = normed[i + half] * cos + normed[i] * sin;
        }
    }
    return out;
}

/** Grouped-query attention of one query over the visible entries, scale 1/sqrt(headDim). */
function attend(store: KvStore, layer: number, query: Slot, q: Vector, model: Qwen3Weights, visible: Visibility): Vector {
    const { nHead, nHeadKv, headDim } = model.config;
    const seen: number[] = [];
    store.slots.forEach((slot, entry) => {
        if (visible(query, slot))
            seen.push(entry);
    });
    if (seen.length === 0)
        throw new Error(`query at position ${query.position}, depth ${query.depth} sees no KV entry`);
    const out = new Float64Array(nHead * headDim);
    const scale = 1 / Math.sqrt(headDim);
    for (let head = 0; head < nHead; head++) {
        const kvHead = Math.floor(head / (nHead / nHeadKv));
        const scores = seen.map((entry) => {
            const key = store.keys[layer][entry];
            let dot = 0;
            for (let i = 0; i < headDim; i++)
                dot += q[head * headDim + i] * key[kvHead * headDim + i];
            return dot * scale;
        });
        const weights = softmax(scores);
        seen.forEach((entry, j) => {
            const value = store.values[layer][entry];
            for (let i = 0; i < headDim; i++)
                out[head * headDim + i] += weights[j] * value[kvHead * headDim + i];
        });
    }
    return out;
}
