/**
 * TaH2 in the engine against the independent float64 reference (test/reference/tah2/): small random TaH2
 * checkpoints in upstream's exact layout, converted by `tah convert`, run with 2, 3, 4 and 8 depths, tied and untied
 * heads, threshold 0 (every token runs every depth), 1 (none) and the model's own (0.5), prefill in one batch, in
 * chunks and token by token, then greedy decode steps. Each position must reach the same depth with the same continue
 * probabilities, its mixture log P must match over the whole vocabulary, and the greedy tokens must be the same.
 *
 * Tolerance on CPU: 1e-4 on log P and on g with an f32 KV cache and flash attention off (float32 rounding of the same
 * arithmetic). Vulkan's batched kernels round through f16 (see exactness.test.ts), so it gets looser bounds that grow
 * with the depths (tolerances() below).
 *
 * Negative controls: each deliberately broken reference (a query that sees deeper cells, the updater fed the previous
 * depth's input instead of the token's embedding, mixing logits instead of probabilities, the decider's top-k from
 * logits instead of probabilities) must be more than 3 tolerances, and 10 times the engine's own distance to the
 * correct reference, from the engine (measured: 0.98 to 8 on CPU and Vulkan, the smallest being the decider's top-k on
 * 4 depths), so the comparison tells each mistake apart.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { convertCheckpoint } from "../../src/convert/convertCheckpoint.js";
import { loadPatchedLlama, type PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { loadTah2Checkpoint } from "../reference/tah2/loadTah2Checkpoint.js";
import { minDecisionMargin, runTah2Reference, tah2Mistakes, type Tah2ReferenceOptions, type Tah2ReferenceResult } from "../reference/tah2/runTah2Reference.js";
import type { Tah2Model } from "../reference/tah2/tah2Model.js";
import { writeTah2Checkpoint, type Tah2CheckpointOptions } from "../support/tah2Checkpoint.js";
import { tokenize } from "../support/tinyTokenizer.js";
import { type EngineRun, maxAbsDiff, runEngine, testGpu } from "./engineHarness.js";

/**
 * How close the engine must be. Vulkan's batched kernels round through f16 (token by token it matches the CPU), and in
 * TaH2 the error of one depth feeds the next through the updater, so it grows with the depths run: measured on
 * lavapipe, up to 4 depths |Δ g| ≤ 4.5e-3 and |Δ log P| ≤ 3e-2 (v1's bounds hold), with 8 depths |Δ g| up to 0.086
 * when every token runs every depth.
 */
function tolerances(maxIter: number): { logProb: number; continueProb: number } {
    if (testGpu === "cpu")
        return { logProb: 1e-4, continueProb: 1e-4 };
    return maxIter <= 4 ? { logProb: 0.1, continueProb: 5e-3 } : { logProb: 0.3, continueProb: 0.1 };
}
const steps = 8;
const prompt = tokenize("def add(a, b):\n    return a + b\n\nclass Point:\n    def __init__(self, x):\n        self.x = x\n");

/**
 * Seeds whose decisions at the model's own threshold all lie at least 1e-2 from it (a float32 engine's g cannot flip
 * one) and whose tokens reach both depth 0 and the last depth there.
 */
const shapes: Array<{ name: string; options: Tah2CheckpointOptions }> = [
    { name: "2 depths, tied head", options: { seed: 4, maxIter: 2, tiedEmbeddings: true } },
    { name: "2 depths, untied head, 2 shards", options: { seed: 1, maxIter: 2, tiedEmbeddings: false, shards: 2 } },
    { name: "3 depths, tied head", options: { seed: 4, maxIter: 3, tiedEmbeddings: true } },
    { name: "3 depths, untied head", options: { seed: 2, maxIter: 3, tiedEmbeddings: false } },
    { name: "4 depths, tied head", options: { seed: 1, maxIter: 4, tiedEmbeddings: true } },
    { name: "4 depths, untied head", options: { seed: 21, maxIter: 4, tiedEmbeddings: false } },
    { name: "8 depths, tied head", options: { seed: 5, maxIter: 8, tiedEmbeddings: true } },
    { name: "8 depths, untied head", options: { seed: 18, maxIter: 8, tiedEmbeddings: false } },
];

/** How far from the threshold every decision must lie for the comparison to be meaningful (above the g errors measured). */
const decisionMargin = testGpu === "cpu" ? 1e-3 : 1e-2;

interface Comparison {
    maxLogProbDiff: number;
    maxContinueDiff: number;
}

function compare(engine: EngineRun, reference: Tah2ReferenceResult, tolerance: ReturnType<typeof tolerances>): Comparison {
    assert.equal(engine.records.length, reference.records.length, "one record per position");
    let maxLogProbDiff = 0;
    let maxContinueDiff = 0;
    engine.records.forEach((record, i) => {
        const expected = reference.records[i];
        assert.equal(record.position, expected.position);
        assert.equal(record.token, expected.token, `token at position ${i}`);
        assert.equal(record.depth, expected.depth, `depth at position ${i} (g ${record.pContinue.join(", ")} vs ${expected.pContinue.join(", ")})`);
        assert.equal(record.iterated, expected.depth > 0);
        assert.equal(record.pContinue.length, expected.pContinue.length, `decider runs at position ${i}`);
        record.pContinue.forEach((g, d) => (maxContinueDiff = Math.max(maxContinueDiff, Math.abs(g - expected.pContinue[d]))));
        assert.equal(record.pHard, record.pContinue[0], "pHard is the decider's probability after depth 0");
        maxLogProbDiff = Math.max(maxLogProbDiff, maxAbsDiff(record.finalLogits, expected.logProbs));
    });
    assert.ok(maxContinueDiff <= tolerance.continueProb && maxLogProbDiff <= tolerance.logProb,
        `continue probabilities differ by ${maxContinueDiff}, log P by ${maxLogProbDiff}`);
    assert.deepEqual(engine.generated.slice(0, steps), reference.generatedTokens.slice(0, steps));
    return { maxLogProbDiff, maxContinueDiff };
}

/** The largest difference of log P or g between the engine and a (broken) reference, over the positions both have. */
function distance(engine: EngineRun, reference: Tah2ReferenceResult): number {
    return engine.records.reduce((max, record, i) => {
        const expected = reference.records[i];
        if (expected === undefined)
            return max;
        const continueDiff = record.pContinue.reduce((m, g, d) => Math.max(m, Math.abs(g - (expected.pContinue[d] ?? Number.NaN))), 0);
        return Math.max(max, maxAbsDiff(record.finalLogits, expected.logProbs), Number.isNaN(continueDiff) ? Infinity : continueDiff);
    }, 0);
}

let patched: PatchedLlama;
const folders: string[] = [];

before(async () => {
    patched = await loadPatchedLlama({ gpu: testGpu });
});

after(async () => {
    await patched.llama.dispose();
    await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

for (const shape of shapes) {
    describe(`TaH2 exactness: ${shape.name}`, () => {
        let modelDir = "";
        let model: Tah2Model;
        const tolerance = tolerances(shape.options.maxIter ?? 2);

        before(async () => {
            const root = await mkdtemp(path.join(os.tmpdir(), "tah2-exact-"));
            folders.push(root);
            const checkpoint = await writeTah2Checkpoint(path.join(root, "checkpoint"), shape.options);
            modelDir = path.join(root, "model");
            // f32: the engine then computes with exactly the bf16 values the checkpoint holds
            await convertCheckpoint({ checkpointDir: checkpoint.dir, outDir: modelDir, type: "f32", sync: false });
            // the reference reads the checkpoint itself, not the converter's output
            model = await loadTah2Checkpoint(checkpoint.dir);
        });

        const thresholds: Array<["every depth" | "no deeper depth" | "the model's own", number | undefined]> = [
            ["every depth", 0], ["no deeper depth", 1], ["the model's own", undefined],
        ];
        for (const [label, threshold] of thresholds) {
            for (const prefill of ["batch", "chunked", "tokenByToken"] as const) {
                test(`threshold ${threshold ?? "0.5 (own)"}: ${label}, prefill ${prefill}`, async (t) => {
                    const options: Tah2ReferenceOptions = { promptTokens: prompt, steps, ...(threshold !== undefined ? { threshold } : {}), ...(prefill === "chunked" ? { prefillChunk: 5 } : prefill === "tokenByToken" ? { prefillChunk: 1 } : {}) };
                    const reference = runTah2Reference(model, options);
                    const depths = reference.records.map((record) => record.depth);
                    if (threshold === 0)
                        assert.ok(depths.every((depth) => depth === model.maxIter - 1));
                    else if (threshold === 1)
                        assert.ok(depths.every((depth) => depth === 0));
                    else {
                        assert.ok(depths.some((depth) => depth > 0) && depths.some((depth) => depth === 0), "some tokens go deeper, some do not");
                        const margin = minDecisionMargin(reference, model.threshold);
                        assert.ok(margin > decisionMargin, `a decision lies ${margin} from the threshold: too close to compare`);
                    }
                    const engine = await runEngine(patched, modelDir, { prompt, steps, ...(threshold !== undefined ? { threshold } : {}), prefill, batchSize: 5 });
                    const { maxLogProbDiff, maxContinueDiff } = compare(engine, reference, tolerance);
                    const histogram = Array.from({ length: model.maxIter }, (_, d) => depths.filter((depth) => depth === d).length);
                    t.diagnostic(`depths ${histogram.join("/")}, max |Δ log P| ${maxLogProbDiff.toExponential(2)}, max |Δ g| ${maxContinueDiff.toExponential(2)}`);
                });
            }
        }

        test("negative controls: each broken reference is far from the engine", async (t) => {
            // threshold 0 runs every depth of every token, so each mistake has the most room to show
            const engine = await runEngine(patched, modelDir, { prompt, steps, threshold: 0, prefill: "chunked", batchSize: 5 });
            const correct = runTah2Reference(model, { promptTokens: prompt, steps, threshold: 0, prefillChunk: 5 });
            compare(engine, correct, tolerance);
            // far beyond what the comparison allows, and far beyond how far the engine is from the correct reference
            const bound = Math.max(3 * tolerance.logProb, 10 * distance(engine, correct));
            for (const mistake of tah2Mistakes) {
                // the previous depth's input equals the embedding at depth 0: the mistake shows from depth 2 on
                if (mistake === "updaterPreviousInput" && model.maxIter < 3)
                    continue;
                const broken = runTah2Reference(model, { promptTokens: prompt, steps, threshold: 0, prefillChunk: 5, mistake });
                const diff = distance(engine, broken);
                assert.ok(diff > bound, `${mistake}: the engine is within ${diff} of it (bound ${bound})`);
                t.diagnostic(`${mistake}: max |Δ| ${diff.toFixed(4)} (bound ${bound.toExponential(1)})`);
            }
        });
    });
}
