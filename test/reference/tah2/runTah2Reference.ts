/**
 * TaH2 inference in float64 (tah2-inference.md): every prompt chunk and every generated token runs depth by depth —
 * depth 0 on all its tokens, the decider after every depth but the last, the updater for the tokens that continue,
 * the next depth on them — under the duo-causal mask over all depths; each token's output is the stop-probability
 * mixture of its depths' distributions.
 */
import { KvStore, duoCausal, type Visibility } from "../kvStore.js";
import { argmax, topK, type Vector } from "../numerics.js";
import { qwen3Forward } from "../qwen3Forward.js";
import { mixLogProbabilities, mixtureWeights } from "./mixture.js";
import { runTah2Decider, runUpdater } from "./smallNets.js";
import type { Tah2Model } from "./tah2Model.js";

/**
 * Deliberate mistakes, for negative controls:
 * - "queriesSeeDeeperCells": a query at depth d also sees cells deeper than d (at positions ≤ its own);
 * - "updaterPreviousInput": the updater gets the depth's own input instead of the token's embedding (the same at
 *   depth 0, so it shows only from depth 2 on, i.e. with maxIter ≥ 3);
 * - "mixLogits": the depths' logits are mixed with the weights instead of their probabilities;
 * - "deciderTopKLogits": the decider reads the top-K raw logits instead of the top-K probabilities.
 */
export const tah2Mistakes = ["queriesSeeDeeperCells", "updaterPreviousInput", "mixLogits", "deciderTopKLogits"] as const;
export type Tah2Mistake = (typeof tah2Mistakes)[number];

export interface Tah2ReferenceOptions {
    readonly promptTokens: readonly number[];
    /** Greedy decode steps: each picks the argmax of the latest log P and then processes that token. */
    readonly steps: number;
    /** Defaults to the model's own; a token continues after a depth iff g > threshold. */
    readonly threshold?: number;
    /** Prompt tokens per prefill batch, each batch run depth by depth; default: the whole prompt, 1: token by token. */
    readonly prefillChunk?: number;
    /** Generation ends when it picks one of these; the stop token is reported but not processed. */
    readonly stopTokens?: readonly number[];
    readonly mistake?: Tah2Mistake;
}

/** One depth a token ran. */
export interface Tah2DepthRecord {
    readonly logits: Vector;
    /** The final-normed hidden state (the output matrix's input). */
    readonly hidden: Vector;
    /** The decider's logit after this depth; null where it did not run (the last depth, D − 1). */
    readonly z: number | null;
    /** This depth's weight in the mixture. */
    readonly weight: number;
}

export interface Tah2Record {
    readonly position: number;
    /** The token processed at this position. */
    readonly token: number;
    /** Whether greedy decoding produced it (false for prompt tokens). */
    readonly generated: boolean;
    /** The deepest depth the token ran, 0-based. */
    readonly depth: number;
    /** The decider's continue probability at each depth it ran at (no entry for depth D − 1). */
    readonly pContinue: readonly number[];
    readonly depths: readonly Tah2DepthRecord[];
    /** log P over the whole vocabulary. */
    readonly logProbs: Vector;
    /** The ten largest entries of log P as [id, value], descending (lower id first on ties). */
    readonly top: readonly (readonly [number, number])[];
    /** The greedy choice: the first index of the maximum of log P. */
    readonly argmax: number;
}

export interface Tah2ReferenceResult {
    /** One record per processed position: the prompt, then each generated token. */
    readonly records: Tah2Record[];
    /** The greedily picked tokens, in order (including a final stop token, which has no record). */
    readonly generatedTokens: number[];
}

const topCount = 10;

/** The row of `matrix` ([rows, width], row-major) for `id`. */
function row(matrix: Float32Array, id: number, width: number): Float32Array {
    return matrix.subarray(id * width, (id + 1) * width);
}

/** A token's state while its chunk runs depth by depth. */
interface Flight {
    readonly position: number;
    readonly token: number;
    readonly embedding: Float32Array;
    /** The input of the depth about to run. */
    input: ArrayLike<number>;
    readonly logits: Vector[];
    readonly hiddens: Vector[];
    readonly z: number[];
    readonly g: number[];
}

export function runTah2Reference(model: Tah2Model, options: Tah2ReferenceOptions): Tah2ReferenceResult {
    const { backbone, maxIter } = model;
    const { nLayer, nEmbd, nVocab } = backbone.config;
    if (options.promptTokens.length === 0)
        throw new Error("the prompt must hold at least one token");
    if (!Number.isInteger(maxIter) || maxIter < 1)
        throw new Error(`maxIter ${maxIter} leaves no depth to run`);
    const chunkSize = options.prefillChunk ?? options.promptTokens.length;
    if (!Number.isInteger(chunkSize) || chunkSize < 1)
        throw new Error(`prefill chunk ${chunkSize} is not a positive whole number`);
    const threshold = options.threshold ?? model.threshold;
    const mistake = options.mistake;
    const visible: Visibility = mistake === "queriesSeeDeeperCells" ? (query, entry) => entry.position <= query.position : duoCausal;
    const store = new KvStore(nLayer);
    const records: Tah2Record[] = [];

    const processTokens = (tokens: readonly number[], generated: boolean): void => {
        const flights: Flight[] = tokens.map((token, i) => {
            if (!Number.isInteger(token) || token < 0 || token >= nVocab)
                throw new Error(`token ${token} is outside the vocabulary`);
            const embedding = row(backbone.tokenEmbd, token, nEmbd);
            return { position: records.length + i, token, embedding, input: embedding, logits: [], hiddens: [], z: [], g: [] };
        });
        let active = flights;
        for (let depth = 0; depth < maxIter && active.length > 0; depth++) {
            const outputs = qwen3Forward(backbone, store, active.map((f) => ({ embedding: f.input, position: f.position, depth })), { lora: false, visible });
            const continuing: Flight[] = [];
            active.forEach((flight, i) => {
                const { logits, normed } = outputs[i];
                flight.logits.push(logits);
                flight.hiddens.push(normed);
                if (depth === maxIter - 1)
                    return;
                const decision = runTah2Decider(model.decider, flight.embedding, normed, logits, mistake === "deciderTopKLogits" ? "logits" : "probabilities");
                flight.z.push(decision.z);
                flight.g.push(decision.g);
                if (decision.g > threshold) {
                    flight.input = runUpdater(model.updater, mistake === "updaterPreviousInput" ? flight.input : flight.embedding, normed);
                    continuing.push(flight);
                }
            });
            active = continuing;
        }
        for (const flight of flights) {
            const depth = flight.logits.length - 1;
            const weights = mixtureWeights(flight.g.slice(0, depth));
            const logProbs = mixLogProbabilities(flight.logits, weights, mistake === "mixLogits" ? "logits" : "probabilities");
            const best = topK(logProbs, Math.min(topCount, nVocab));
            records.push({
                position: flight.position,
                token: flight.token,
                generated,
                depth,
                pContinue: flight.g,
                depths: flight.logits.map((logits, d) => ({ logits, hidden: flight.hiddens[d], z: flight.z[d] ?? null, weight: weights[d] })),
                logProbs,
                top: best.ids.map((id, j) => [id, best.values[j]] as const),
                argmax: argmax(logProbs),
            });
        }
    };

    for (let start = 0; start < options.promptTokens.length; start += chunkSize)
        processTokens(options.promptTokens.slice(start, start + chunkSize), false);

    const generatedTokens: number[] = [];
    for (let step = 0; step < options.steps; step++) {
        const next = records[records.length - 1].argmax;
        generatedTokens.push(next);
        if (options.stopTokens?.includes(next))
            break;
        processTokens([next], true);
    }
    return { records, generatedTokens };
}

/**
 * The smallest distance between a continue probability and `threshold` over all decisions of a run: how far a
 * float32 engine's g may drift before a decision can flip.
 */
export function minDecisionMargin(result: Tah2ReferenceResult, threshold: number): number {
    return Math.min(...result.records.flatMap((record) => record.pContinue.map((g) => Math.abs(g - threshold))));
}
