import { runDecider } from "./decider.js";
import { KvStore, duoCausal, type Visibility } from "./kvStore.js";
import { argmax, softmax, topK, type Vector } from "./numerics.js";
import { qwen3Forward, type ForwardInput, type ForwardOutput } from "./qwen3Forward.js";
import type { TahModel } from "./tahModel.js";

export interface ReferenceOptions {
    readonly promptTokens: readonly number[];
    /** Greedy decode steps: each picks the argmax of the latest final logits and then processes that token. */
    readonly steps: number;
    /** Defaults to the model's stored threshold; a token iterates iff P(hard) > threshold. */
    readonly threshold?: number;
    /**
     * "batched" (default): tah-inference.md §6.2 — one depth-0 pass over the prompt, the decider on every token, one
     * depth-1 pass over the iterated subset. "sequential": each prompt token is processed alone, like a decode step.
     */
    readonly prefill?: "batched" | "sequential";
    /** Generation ends when it picks one of these; the stop token is reported but not processed. */
    readonly stopTokens?: readonly number[];
    /** Negative control: false runs depth 1 without the LoRA. */
    readonly depth1Lora?: boolean;
    /** Negative control: true lets depth-0 queries also see depth-1 entries (at positions ≤ their own). */
    readonly depth0SeesDepth1?: boolean;
    /** Negative control: "hidden" feeds depth 1 the pre-final-norm last hidden state of depth 0 instead of the soft embedding. */
    readonly depth1Input?: "softEmbedding" | "hidden";
}

export interface ReferenceRecord {
    readonly position: number;
    /** The token processed at this position. */
    readonly token: number;
    /** Whether the token was produced by greedy decoding (false for prompt tokens). */
    readonly generated: boolean;
    readonly z: number;
    readonly pHard: number;
    readonly iterated: boolean;
    readonly logitsDepth0: Vector;
    /** null when the token did not iterate. */
    readonly logitsDepth1: Vector | null;
    /** logitsDepth0 + logitsDepth1, or logitsDepth0 when the token did not iterate. */
    readonly finalLogits: Vector;
}

export interface ReferenceResult {
    /** One record per processed position: the prompt, then each generated token. */
    readonly records: ReferenceRecord[];
    /** The greedily picked tokens, in order (including a final stop token, which has no record). */
    readonly generatedTokens: number[];
}

/** The row of `matrix` ([rows, width], row-major) for `id`. */
function row(matrix: Float32Array, id: number, width: number): Float32Array {
    return matrix.subarray(id * width, (id + 1) * width);
}

/** Depth-1 input (§2): Σ softmax(top-k values)_j · E[top-k ids_j] over the depth-0 logits. */
export function softEmbedding(model: TahModel, logits: Vector): Vector {
    const { ids, values } = topK(logits, model.softEmbeddingTopK);
    const weights = softmax(values);
    const nEmbd = model.config.nEmbd;
    const out = new Float64Array(nEmbd);
    ids.forEach((id, j) => {
        const embedding = row(model.tokenEmbd, id, nEmbd);
        for (let i = 0; i < nEmbd; i++)
            out[i] += weights[j] * embedding[i];
    });
    return out;
}

/** Runs TaH inference on `promptTokens` and `steps` greedy tokens, in float64. */
export function runReference(model: TahModel, options: ReferenceOptions): ReferenceResult {
    const { nLayer, nEmbd, nVocab } = model.config;
    if (options.promptTokens.length === 0)
        throw new Error("the prompt must hold at least one token");
    const threshold = options.threshold ?? model.threshold;
    const depth1Lora = options.depth1Lora ?? true;
    const depth1Input = options.depth1Input ?? "softEmbedding";
    const visible: Visibility = options.depth0SeesDepth1
        ? (query, entry) => entry.position <= query.position
        : duoCausal;
    const store = new KvStore(nLayer);
    const records: ReferenceRecord[] = [];

    const processTokens = (tokens: readonly number[], generated: boolean): void => {
        const first = records.length;
        const depth0Inputs: ForwardInput[] = tokens.map((token, i) => {
            if (!Number.isInteger(token) || token < 0 || token >= nVocab)
                throw new Error(`token ${token} is outside the vocabulary`);
            return { embedding: row(model.tokenEmbd, token, nEmbd), position: first + i, depth: 0 };
        });
        const depth0 = qwen3Forward(model, store, depth0Inputs, { lora: false, visible });
        const decisions = depth0.map((out) => runDecider(model.decider, out.residuals, out.logits));
        const iterated = decisions.map((d) => model.maxIter >= 2 && d.pHard > threshold);
        const subset = tokens.map((_, i) => i).filter((i) => iterated[i]);
        const depth1Inputs: ForwardInput[] = subset.map((i) => ({
            embedding: depth1Input === "hidden" ? depth0[i].residuals[nLayer] : softEmbedding(model, depth0[i].logits),
            position: first + i,
            depth: 1,
        }));
        const depth1 = new Array<ForwardOutput | undefined>(tokens.length);
        if (subset.length > 0) {
            qwen3Forward(model, store, depth1Inputs, { lora: depth1Lora, visible })
                .forEach((out, j) => { depth1[subset[j]] = out; });
        }
        tokens.forEach((token, i) => {
            const logitsDepth0 = depth0[i].logits;
            const logitsDepth1 = depth1[i]?.logits ?? null;
            records.push({
                position: first + i,
                token,
                generated,
                z: decisions[i].z,
                pHard: decisions[i].pHard,
                iterated: iterated[i],
                logitsDepth0,
                logitsDepth1,
                finalLogits: logitsDepth1 === null ? logitsDepth0 : logitsDepth0.map((value, v) => value + logitsDepth1[v]),
            });
        });
    };

    if ((options.prefill ?? "batched") === "batched")
        processTokens(options.promptTokens, false);
    else
        options.promptTokens.forEach((token) => processTokens([token], false));

    const generatedTokens: number[] = [];
    for (let step = 0; step < options.steps; step++) {
        const next = argmax(records[records.length - 1].finalLogits);
        generatedTokens.push(next);
        if (options.stopTokens?.includes(next))
            break;
        processTokens([next], true);
    }
    return { records, generatedTokens };
}
