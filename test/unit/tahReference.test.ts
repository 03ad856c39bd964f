import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runDecider } from "../reference/decider.js";
import { KvStore, duoCausal } from "../reference/kvStore.js";
import { erf, gelu, topK } from "../reference/numerics.js";
import { qwen3Forward } from "../reference/qwen3Forward.js";
import { runReference, type ReferenceOptions, type ReferenceResult } from "../reference/runReference.js";
import { loraTargets, type TahModel } from "../reference/tahModel.js";
import { createTinyTah } from "../support/tinyTah.js";
import { tokenize } from "../support/tinyTokenizer.js";
import { maxAbsDiff } from "../reference/numerics.js";

const tiny = createTinyTah();
const model = tiny.model;
const prompt = tokenize("<|im_start|>user\ndef f(x): return x + 1<|im_end|>\n<|im_start|>assistant\n", { specials: true });
const steps = 6;

function maxFinalDiff(a: ReferenceResult, b: ReferenceResult, from = 0, to = Math.min(a.records.length, b.records.length)): number {
    let max = 0;
    for (let i = from; i < to; i++)
        max = Math.max(max, maxAbsDiff(a.records[i].finalLogits, b.records[i].finalLogits));
    return max;
}

function run(options: Partial<ReferenceOptions> = {}, on: TahModel = model): ReferenceResult {
    return runReference(on, { promptTokens: prompt, steps, ...options });
}

function embeddingRow(on: TahModel, token: number): Float32Array {
    const n = on.config.nEmbd;
    return on.tokenEmbd.subarray(token * n, (token + 1) * n);
}

const baseline = run();

describe("reference numerics", () => {
    it("erf and GELU match known values", () => {
        assert.ok(Math.abs(erf(0.5) - 0.5204998778130465) < 1e-15);
        assert.ok(Math.abs(erf(1) - 0.8427007929497149) < 1e-15);
        assert.ok(Math.abs(erf(2) - 0.9953222650189527) < 1e-15);
        assert.ok(Math.abs(erf(-3) + 0.9999779095030014) < 1e-15);
        assert.equal(erf(0), 0);
        assert.equal(erf(7), 1);
        assert.ok(Math.abs(gelu(1) - 0.8413447460685429) < 1e-15);
        assert.ok(Math.abs(gelu(-1) + 0.15865525393145707) < 1e-15);
    });

    it("top-k is sorted descending and keeps the lower id first on ties", () => {
        assert.deepEqual(topK([1, 3, 2, 3, 0], 3), { ids: [1, 3, 2], values: [3, 3, 2] });
    });
});

describe("TaH reference", () => {
    it("has a mix of iterated and non-iterated tokens at the stored threshold", () => {
        const iterated = baseline.records.filter((r) => r.iterated).length;
        assert.ok(iterated > 0 && iterated < baseline.records.length, `${iterated} of ${baseline.records.length} iterated`);
        assert.equal(baseline.records.length, prompt.length + steps);
        assert.deepEqual(baseline.records.map((r) => r.position), baseline.records.map((_, i) => i));
        assert.deepEqual(baseline.records.slice(prompt.length).map((r) => r.token), baseline.generatedTokens);
    });

    it("prefill then decode equals token-by-token processing (full sequential parallelism)", () => {
        const sequential = run({ prefill: "sequential" });
        assert.deepEqual(sequential.generatedTokens, baseline.generatedTokens);
        assert.deepEqual(sequential.records.map((r) => r.iterated), baseline.records.map((r) => r.iterated));
        for (let i = 0; i < baseline.records.length; i++) {
            const a = baseline.records[i];
            const b = sequential.records[i];
            assert.ok(Math.abs(a.z - b.z) < 1e-9, `z at ${i}`);
            assert.ok(maxAbsDiff(a.logitsDepth0, b.logitsDepth0) < 1e-9, `depth-0 logits at ${i}`);
            assert.ok(maxAbsDiff(a.finalLogits, b.finalLogits) < 1e-9, `final logits at ${i}`);
        }
    });

    it("threshold 1 makes nothing iterate and keeps the depth-0 logits", () => {
        const result = run({ threshold: 1 });
        for (const record of result.records) {
            assert.equal(record.iterated, false);
            assert.equal(record.logitsDepth1, null);
            assert.deepEqual(record.finalLogits, record.logitsDepth0);
        }
    });

    it("threshold 0 makes every token iterate, with final = depth-0 + depth-1 logits", () => {
        const result = run({ threshold: 0 });
        for (const record of result.records) {
            assert.equal(record.iterated, true);
            const sum = record.logitsDepth0.map((value, v) => value + record.logitsDepth1![v]);
            assert.deepEqual(record.finalLogits, sum);
        }
    });

    it("maxIter 1 disables depth 1", () => {
        const result = run({ threshold: 0 }, { ...model, maxIter: 1 });
        assert.ok(result.records.every((r) => !r.iterated));
    });

    it("depth-0 results never depend on depth-1 work", () => {
        // Sequential prefill interleaves depth-1 passes with later depth-0 passes, so a leak would show here.
        const none = run({ threshold: 1, prefill: "sequential", steps: 0 });
        const all = run({ threshold: 0, prefill: "sequential", steps: 0 });
        for (let i = 0; i < prompt.length; i++) {
            assert.deepEqual(all.records[i].logitsDepth0, none.records[i].logitsDepth0);
            assert.equal(all.records[i].z, none.records[i].z);
        }
    });

    describe("negative controls change the results when tokens iterate", () => {
        it("depth 1 without LoRA", () => {
            const control = run({ depth1Lora: false });
            const firstIterated = baseline.records.findIndex((r) => r.iterated);
            assert.ok(maxFinalDiff(baseline, control, 0, firstIterated) === 0, "identical before the first iteration");
            assert.ok(maxFinalDiff(baseline, control) > 0.1);
        });

        it("depth-0 queries seeing depth-1 entries", () => {
            const control = run({ depth0SeesDepth1: true });
            // In a batched prefill no depth-1 entry exists yet while depth 0 runs, so the prompt is unaffected.
            assert.equal(maxFinalDiff(baseline, control, 0, prompt.length), 0);
            assert.ok(maxFinalDiff(baseline, control, prompt.length) > 0.1);
            const sequential = run({ depth0SeesDepth1: true, prefill: "sequential" });
            assert.ok(maxFinalDiff(baseline, sequential, 0, prompt.length) > 0.1);
        });

        it("the last hidden state as the depth-1 input", () => {
            const control = run({ depth1Input: "hidden" });
            assert.ok(maxFinalDiff(baseline, control) > 0.1);
        });

        it("depth-1 logits change when the LoRA of any single projection is removed", () => {
            const short = { promptTokens: prompt.slice(0, 4), steps: 0, threshold: 0 };
            const reference = runReference(model, short);
            for (const target of loraTargets) {
                const layers = model.lora.layers.map((pairs) => ({
                    ...pairs,
                    [target]: { a: pairs[target].a, b: new Float32Array(pairs[target].b.length) },
                }));
                const without = runReference({ ...model, lora: { ...model.lora, layers } }, short);
                assert.ok(maxFinalDiff(reference, without) > 1e-3, `LoRA on ${target} has no effect`);
            }
        });
    });

    it("uses output.weight when present and the token embedding when tied", () => {
        assert.equal(model.output, null);
        const untiedSameMatrix = run({}, { ...model, output: model.tokenEmbd.slice() });
        assert.equal(maxFinalDiff(baseline, untiedSameMatrix), 0);
        const untied = createTinyTah({ tiedEmbeddings: false }).model;
        assert.ok(untied.output !== null);
        const otherOutput = run({}, { ...model, output: untied.output });
        assert.ok(maxFinalDiff(baseline, otherOutput) > 0.1);
    });

    it("the decider's tap order matters", () => {
        const reversed = { ...model.decider, taps: [...model.decider.taps].reverse() };
        const result = run({ steps: 0 }, { ...model, decider: reversed });
        const maxZDiff = Math.max(...result.records.map((r, i) => Math.abs(r.z - baseline.records[i].z)));
        assert.ok(maxZDiff > 0.05, `z moved by at most ${maxZDiff}`);
    });

    it("tap 0 is the token embedding (5 taps including the embedding)", () => {
        const withEmbedding = createTinyTah({ taps: [0, 1, 2, 3, 4] }).model;
        const token = prompt[3];
        const [out] = qwen3Forward(withEmbedding, new KvStore(withEmbedding.config.nLayer), [{
            embedding: embeddingRow(withEmbedding, token), position: 0, depth: 0,
        }], { lora: false, visible: duoCausal });
        assert.deepEqual([...out.residuals[0]], [...embeddingRow(withEmbedding, token)]);
        const decision = runDecider(withEmbedding.decider, out.residuals, out.logits);
        assert.ok(decision.pHard > 0 && decision.pHard < 1);
        const result = runReference(withEmbedding, { promptTokens: prompt, steps: 2 });
        assert.equal(result.records.length, prompt.length + 2);
    });

    it("RoPE makes attention depend only on relative positions", () => {
        const inputs = prompt.slice(0, 5).map((token, i) => ({
            embedding: embeddingRow(model, token), position: i, depth: 0,
        }));
        const at0 = qwen3Forward(model, new KvStore(model.config.nLayer), inputs, { lora: false, visible: duoCausal });
        const shifted = inputs.map((input) => ({ ...input, position: input.position + 37 }));
        const at37 = qwen3Forward(model, new KvStore(model.config.nLayer), shifted, { lora: false, visible: duoCausal });
        for (let i = 0; i < inputs.length; i++)
            assert.ok(maxAbsDiff(at0[i].logits, at37[i].logits) < 1e-9);
        // Sanity: positions do matter when they are not shifted together.
        const spread = inputs.map((input) => ({ ...input, position: input.position * 3 }));
        const atSpread = qwen3Forward(model, new KvStore(model.config.nLayer), spread, { lora: false, visible: duoCausal });
        assert.ok(maxAbsDiff(at0[4].logits, atSpread[4].logits) > 1e-3);
    });

    it("refuses a second KV entry at the same position and depth", () => {
        const store = new KvStore(model.config.nLayer);
        const input = { embedding: embeddingRow(model, 0), position: 0, depth: 0 };
        qwen3Forward(model, store, [input], { lora: false, visible: duoCausal });
        assert.throws(() => qwen3Forward(model, store, [input], { lora: false, visible: duoCausal }), /already exists/);
    });

    it("stops at a stop token without processing it", () => {
        const stop = baseline.generatedTokens[2];
        const result = run({ stopTokens: [stop] });
        const at = baseline.generatedTokens.indexOf(stop);
        assert.deepEqual(result.generatedTokens, baseline.generatedTokens.slice(0, at + 1));
        assert.equal(result.records.length, prompt.length + at);
    });
});
