import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KvStore, duoCausal } from "../reference/kvStore.js";
import { qwen3Forward } from "../reference/qwen3Forward.js";
import { mixLogProbabilities, mixtureWeights } from "../reference/tah2/mixture.js";
import { minDecisionMargin, runTah2Reference, tah2Mistakes, type Tah2ReferenceOptions, type Tah2ReferenceResult } from "../reference/tah2/runTah2Reference.js";
import { deciderTopValues } from "../reference/tah2/smallNets.js";
import type { Tah2Model } from "../reference/tah2/tah2Model.js";
import { createTah2Model } from "../support/tah2Checkpoint.js";
import { tokenize } from "../support/tinyTokenizer.js";
import { maxAbsDiff } from "../reference/numerics.js";

const prompt = tokenize("def add(a, b):\n    return a + b\n\nclass Point:\n");
const steps = 8;
const depthCounts = [2, 3, 4, 8] as const;
const models = new Map(depthCounts.map((maxIter) => [maxIter, createTah2Model({ seed: 3, maxIter }).model]));
const untied = createTah2Model({ seed: 3, maxIter: 3, tiedEmbeddings: false }).model;

function modelWith(maxIter: (typeof depthCounts)[number]): Tah2Model {
    const model = models.get(maxIter);
    assert.ok(model !== undefined);
    return model;
}

function run(model: Tah2Model, options: Partial<Tah2ReferenceOptions> = {}): Tah2ReferenceResult {
    return runTah2Reference(model, { promptTokens: prompt, steps, ...options });
}

/** The largest |Δ log P| over positions [from, to) that hold the same token in both runs. */
function maxLogProbDiff(a: Tah2ReferenceResult, b: Tah2ReferenceResult, from = 0, to = Math.min(a.records.length, b.records.length)): number {
    let max = 0;
    for (let i = from; i < to; i++) {
        if (a.records[i].token === b.records[i].token)
            max = Math.max(max, maxAbsDiff(a.records[i].logProbs, b.records[i].logProbs));
    }
    return max;
}

function logSoftmax(values: ArrayLike<number>): number[] {
    const max = Math.max(...Array.from(values));
    const logSum = max + Math.log(Array.from(values).reduce((sum, value) => sum + Math.exp(value - max), 0));
    return Array.from(values, (value) => value - logSum);
}

const baselines = new Map(depthCounts.map((maxIter) => [maxIter, run(modelWith(maxIter))]));

function baselineOf(maxIter: (typeof depthCounts)[number]): Tah2ReferenceResult {
    const result = baselines.get(maxIter);
    assert.ok(result !== undefined);
    return result;
}

describe("TaH2 reference: building blocks", () => {
    it("the decider's top-K are softmax probabilities, descending, zero-padded past the vocabulary", () => {
        const logits = Float64Array.of(0, Math.log(3), Math.log(2));
        assert.deepEqual(Array.from(deciderTopValues(logits, 5, "probabilities"), (p) => Number(p.toFixed(12))), [0.5, 0.333333333333, 0.166666666667, 0, 0]);
        assert.deepEqual([...deciderTopValues(logits, 2, "logits")], [Math.log(3), Math.log(2)]);
    });

    it("stop-probability weights: r(1−g) where the token continued, the remaining mass where it stopped", () => {
        assert.deepEqual(mixtureWeights([]), [1]);
        const [w0, w1, w2] = mixtureWeights([0.75, 0.5]);
        assert.equal(w0, 0.25);
        assert.equal(w1, 0.375);
        assert.equal(w2, 0.375);
    });

    it("the log-space mixture equals log Σ w·softmax computed in probability space", () => {
        const logits = [Float64Array.of(1, 2, 3, -1), Float64Array.of(0.5, -2, 4, 0)];
        const weights = [0.3, 0.7];
        const direct = [0, 1, 2, 3].map((v) => Math.log(logits.reduce((sum, depth, d) => sum + weights[d] * Math.exp(logSoftmax(depth)[v]), 0)));
        assert.ok(maxAbsDiff(mixLogProbabilities(logits, weights), direct) < 1e-14);
        assert.ok(maxAbsDiff(mixLogProbabilities(logits, weights, "logits"), logSoftmax([0.65, -0.8, 3.7, -0.3])) < 1e-14);
    });

    it("the duo-causal rule reproduces the specification's 3-depth example (tah2-inference.md §3.1)", () => {
        const cells = [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1], [1, 1], [3, 1], [1, 2]].map(([position, depth]) => ({ position, depth }));
        const table: [number, number, string][] = [[2, 0, "11100000"], [1, 2, "11001101"], [3, 1, "11111110"], [3, 0, "11110000"]];
        for (const [position, depth, row] of table)
            assert.equal(cells.map((cell) => (duoCausal({ position, depth }, cell) ? "1" : "0")).join(""), row, `query ${position}·d${depth}`);
    });
});

describe("TaH2 reference", () => {
    for (const maxIter of depthCounts) {
        describe(`${maxIter} depths`, () => {
            const model = modelWith(maxIter);
            const baseline = baselineOf(maxIter);

            it("at the model's own threshold some tokens stop at depth 0 and some go deeper", () => {
                assert.equal(model.threshold, 0.5);
                assert.equal(baseline.records.length, prompt.length + steps);
                const depths = baseline.records.map((r) => r.depth);
                assert.ok(depths.some((d) => d === 0) && depths.some((d) => d > 0), `depths ${depths.join(",")}`);
                for (const record of baseline.records) {
                    // The decider runs after every depth the token ran but the last one, D − 1.
                    assert.equal(record.pContinue.length, Math.min(record.depth + 1, maxIter - 1));
                    record.pContinue.forEach((g, d) => assert.equal(g > 0.5, d < record.depth, `decision at depth ${d}, position ${record.position}`));
                    assert.equal(record.depths.length, record.depth + 1);
                    assert.equal(record.top.length, 10);
                    assert.equal(record.top[0][0], record.argmax);
                    assert.equal(record.top[0][1], Math.max(...record.logProbs));
                }
                assert.deepEqual(baseline.records.slice(prompt.length).map((r) => r.token), baseline.generatedTokens);
            });

            it("threshold 1: every token stops at depth 0 and log P is the plain backbone's log-softmax", () => {
                const result = run(model, { threshold: 1 });
                const tokens = result.records.map((r) => r.token);
                const n = model.backbone.config.nEmbd;
                const plain = qwen3Forward(model.backbone, new KvStore(model.backbone.config.nLayer),
                    tokens.map((token, position) => ({ embedding: model.backbone.tokenEmbd.subarray(token * n, (token + 1) * n), position, depth: 0 })),
                    { lora: false, visible: duoCausal });
                result.records.forEach((record, i) => {
                    assert.equal(record.depth, 0);
                    assert.equal(record.pContinue.length, 1);
                    assert.ok(maxAbsDiff(record.logProbs, logSoftmax(plain[i].logits)) < 1e-12, `position ${i}`);
                });
            });

            it("threshold 0: every token runs every depth, and log P is a normalized distribution", () => {
                const result = run(model, { threshold: 0 });
                for (const record of result.records) {
                    assert.equal(record.depth, maxIter - 1);
                    assert.equal(record.pContinue.length, maxIter - 1);
                    const total = record.logProbs.reduce((sum, value) => sum + Math.exp(value), 0);
                    assert.ok(Math.abs(total - 1) < 1e-12, `Σ P = ${total}`);
                    assert.ok(Math.abs(record.depths.reduce((sum, d) => sum + d.weight, 0) - 1) < 1e-14);
                }
            });

            it("prefill in one batch equals prefill in chunks and token by token", () => {
                for (const prefillChunk of [1, 3]) {
                    const other = run(model, { prefillChunk });
                    assert.deepEqual(other.generatedTokens, baseline.generatedTokens, `chunk ${prefillChunk}`);
                    other.records.forEach((record, i) => {
                        const expected = baseline.records[i];
                        assert.equal(record.depth, expected.depth, `depth at ${i}, chunk ${prefillChunk}`);
                        assert.ok(maxAbsDiff(record.pContinue, expected.pContinue) < 1e-12, `pContinue at ${i}, chunk ${prefillChunk}`);
                        assert.ok(maxAbsDiff(record.logProbs, expected.logProbs) < 1e-12, `log P at ${i}, chunk ${prefillChunk}`);
                    });
                }
            });

            it("depth-0 results never depend on deeper work", () => {
                const none = run(model, { threshold: 1, prefillChunk: 1, steps: 0 });
                const all = run(model, { threshold: 0, prefillChunk: 1, steps: 0 });
                none.records.forEach((record, i) => {
                    assert.deepEqual(all.records[i].depths[0].logits, record.depths[0].logits);
                    assert.equal(all.records[i].pContinue[0], record.pContinue[0]);
                });
            });
        });
    }

    it("with 2 depths a continuing token's log P is log((1 − g)·softmax(ℓ₀) + g·softmax(ℓ₁))", () => {
        const result = baselineOf(2);
        const continued = result.records.filter((r) => r.depth === 1);
        assert.ok(continued.length > 0);
        for (const record of continued) {
            const g = record.pContinue[0];
            // g > 0.5, so 1 − g is exact in floating point and the two weights sum to exactly 1.
            assert.equal(record.depths[0].weight + record.depths[1].weight, 1);
            assert.equal(record.depths[1].weight, g);
            const p0 = logSoftmax(record.depths[0].logits);
            const p1 = logSoftmax(record.depths[1].logits);
            assert.ok(maxAbsDiff(record.logProbs, p0.map((value, v) => Math.log((1 - g) * Math.exp(value) + g * Math.exp(p1[v])))) < 1e-12);
        }
    });

    it("an untied head uses lm_head; a copy of the embedding there equals the tied model", () => {
        assert.ok(untied.backbone.output !== null);
        const tied = createTah2Model({ seed: 3, maxIter: 3 }).model;
        const base = run(tied);
        assert.equal(maxLogProbDiff(base, run({ ...tied, backbone: { ...tied.backbone, output: tied.backbone.tokenEmbd.slice() } })), 0);
        assert.ok(maxLogProbDiff(base, run({ ...tied, backbone: { ...tied.backbone, output: untied.backbone.output } })) > 0.5);
    });

    it("reports how close the decisions come to the threshold", () => {
        const baseline = baselineOf(4);
        const g = baseline.records[0].pContinue[0];
        assert.equal(minDecisionMargin(baseline, g), 0);
        const margin = minDecisionMargin(baseline, 0.5);
        assert.ok(margin > 0 && margin <= Math.abs(g - 0.5));
    });

    it("continuing is strict: a token whose g equals the threshold stops", () => {
        const baseline = baselineOf(4);
        const deep = baseline.records.find((r) => r.depth > 0);
        assert.ok(deep !== undefined);
        const atThreshold = run(modelWith(4), { threshold: deep.pContinue[0], steps: 0 });
        assert.equal(atThreshold.records[deep.position].depth, 0);
    });

    it("stops at a stop token without processing it", () => {
        const baseline = baselineOf(3);
        const stop = baseline.generatedTokens[2];
        const at = baseline.generatedTokens.indexOf(stop);
        const result = run(modelWith(3), { stopTokens: [stop] });
        assert.deepEqual(result.generatedTokens, baseline.generatedTokens.slice(0, at + 1));
        assert.equal(result.records.length, prompt.length + at);
    });

    it("refuses a decider whose top-K does not fit norm_l", () => {
        const model = modelWith(2);
        assert.throws(() => run({ ...model, decider: { ...model.decider, topK: 16 } }), /topk = hidden_size/);
    });
});

describe("TaH2 reference: each deliberate mistake changes the answer", () => {
    /** A miss must be this large in |Δ log P| somewhere; measured misses are 4 – 8. */
    const clearMargin = 0.5;

    it("lists exactly the four mistakes", () => {
        assert.deepEqual([...tah2Mistakes], ["queriesSeeDeeperCells", "updaterPreviousInput", "mixLogits", "deciderTopKLogits"]);
    });

    for (const maxIter of depthCounts) {
        const model = modelWith(maxIter);
        const baseline = baselineOf(maxIter);

        it(`${maxIter} depths: a query that sees deeper cells misses once deeper cells exist before it`, () => {
            const control = run(model, { mistake: "queriesSeeDeeperCells" });
            // In one prefill batch every depth d runs before any deeper cell exists, so only decoding shows it.
            assert.equal(maxLogProbDiff(baseline, control, 0, prompt.length), 0);
            assert.ok(maxLogProbDiff(baseline, control) > clearMargin);
            const tokenByToken = run(model, { mistake: "queriesSeeDeeperCells", prefillChunk: 1, steps: 0 });
            assert.ok(maxLogProbDiff(baseline, tokenByToken) > clearMargin);
        });

        it(`${maxIter} depths: the previous depth's input in the updater ${maxIter === 2 ? "is harmless with only one update" : "misses"}`, () => {
            const control = run(model, { mistake: "updaterPreviousInput" });
            if (maxIter === 2)
                assert.equal(maxLogProbDiff(baseline, control), 0);
            else
                assert.ok(maxLogProbDiff(baseline, control) > clearMargin);
        });

        it(`${maxIter} depths: mixing logits instead of probabilities misses, but only where a token went deeper`, () => {
            const control = run(model, { mistake: "mixLogits" });
            // The mixture feeds nothing back, so the prompt's states and decisions are the same in both runs.
            const promptRecords = baseline.records.slice(0, prompt.length);
            for (const record of promptRecords.filter((r) => r.depth === 0))
                assert.deepEqual(control.records[record.position].logProbs, record.logProbs);
            const deepest = Math.max(...promptRecords.filter((r) => r.depth > 0).map((r) => maxAbsDiff(control.records[r.position].logProbs, r.logProbs)));
            assert.ok(deepest > clearMargin, `${deepest}`);
        });

        it(`${maxIter} depths: the decider ranking logits instead of probabilities misses`, () => {
            const control = run(model, { mistake: "deciderTopKLogits" });
            assert.ok(Math.abs(control.records[0].pContinue[0] - baseline.records[0].pContinue[0]) > 1e-3);
            assert.ok(maxLogProbDiff(baseline, control) > clearMargin);
        });
    }
});
