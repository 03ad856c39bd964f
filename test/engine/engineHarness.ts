/** Runs the native engine the way the exactness tests compare it with the reference: full final-logit rows per position. */
import { TahContext } from "../../src/engine/evaluator/TahContext.js";
import { greedy } from "../../src/engine/evaluator/sampling.js";
import type { TokenRecord } from "../../src/engine/evaluator/tokenRecords.js";
import { TahModel } from "../../src/engine/model/TahModel.js";
import type { GpuBackend } from "../../src/engine/native/buildIdentity.js";
import type { PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";

/** The backend the engine tests run on: cpu unless TAH_TEST_GPU says otherwise (npm run test:vulkan). */
export const testGpu = (process.env.TAH_TEST_GPU ?? "cpu") as GpuBackend;

export interface EngineRecord {
    position: number;
    token: number;
    pHard: number | null;
    iterated: boolean;
    /** The deepest depth run, 0-based. */
    depth: number;
    /** The decider's probability at each depth it ran at. */
    pContinue: number[];
    /** v1: the summed logits; TaH2: the mixture's log-probabilities. */
    finalLogits: Float64Array;
    depth0Logits: Float64Array;
}

export interface EngineRunOptions {
    prompt: readonly number[];
    steps: number;
    threshold?: number;
    /** "batch": the whole prompt in one step; "chunked": steps of batchSize; "tokenByToken": one token per step. */
    prefill: "batch" | "chunked" | "tokenByToken";
    batchSize?: number;
    /** f32 KV without flash attention (whose CPU kernel rounds Q to f16) unless said otherwise. */
    kvType?: "f16" | "f32";
    flashAttention?: "auto" | boolean;
}

export interface EngineRun {
    records: EngineRecord[];
    generated: number[];
}

function row(candidates: TokenRecord["after"], nVocab: number): Float64Array {
    const logits = new Float64Array(nVocab).fill(Number.NaN);
    for (const candidate of candidates)
        logits[candidate.token] = candidate.logit;
    return logits;
}

function toEngineRecord(record: TokenRecord, nVocab: number): EngineRecord {
    return {
        position: record.position,
        token: record.token,
        pHard: record.pHard,
        iterated: record.iterated,
        depth: record.depth,
        pContinue: record.pContinue,
        finalLogits: row(record.after, nVocab),
        depth0Logits: row(record.before, nVocab)
    };
}

export async function runEngine(patched: PatchedLlama, modelPath: string, options: EngineRunOptions): Promise<EngineRun> {
    const model = await TahModel.load(patched, modelPath);
    try {
        if (patched.gpu !== "cpu" && model.llamaModel.gpuLayers === 0)
            throw new Error(`nothing was offloaded to ${patched.gpu}`);
        const nVocab = model.vocabularySize;
        const batchSize = options.prefill === "batch" ? Math.max(options.prompt.length, 1)
            : options.prefill === "tokenByToken" ? 1 : options.batchSize ?? 4;
        const context = await TahContext.create(model, {
            sequences: 1,
            contextSize: options.prompt.length + options.steps + 1,
            threads: 1,
            batchSize,
            iterationHeadroom: 1,
            kvType: options.kvType ?? "f32",
            flashAttention: options.flashAttention ?? false
        });
        try {
            const sequence = context.sequence(0);
            const common = { recordTopN: nVocab, sample: greedy, ...(options.threshold !== undefined ? { threshold: options.threshold } : {}) };
            const prefill = await sequence.prefill(options.prompt, { ...common, recordFrom: 0 });
            const records = prefill.records.map((record) => toEngineRecord(record, nVocab));
            const generated: number[] = [];
            let next = prefill.nextToken!;
            for (let step = 0; step < options.steps; step++) {
                generated.push(next);
                const result = await sequence.evaluate([next], common);
                records.push(...result.records.map((record) => toEngineRecord(record, nVocab)));
                next = result.nextToken!;
            }
            generated.push(next);
            return { records, generated };
        } finally {
            await context.dispose();
        }
    } finally {
        await model.dispose();
    }
}

export { maxAbsDiff } from "../reference/numerics.js";
