/**
 * The engine against the independent float64 reference (test/reference/), on small random TaH models written to
 * GGUF: the same decisions, the same greedy tokens, and final logits within tolerance, for no/some/all tokens
 * iterating and for prefill in one batch, in chunks and token by token, followed by 20 decode steps.
 *
 * Tolerance: 1e-4 on logits (typical |logit| ≤ 8) with an f32 KV cache and flash attention off — measured
 * differences are 3e-6 – 1e-5, float32 rounding of the same arithmetic. The product's defaults (f16 KV, flash
 * attention, whose CPU kernel rounds Q to f16) are checked separately at 0.15.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { loadPatchedLlama, type PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { runReference, type ReferenceOptions, type ReferenceResult } from "../reference/runReference.js";
import { generateTinyTah, type TinyTahOptions } from "../support/tinyTah.js";
import { tokenize } from "../support/tinyTokenizer.js";
import { type EngineRun, maxAbsDiff, runEngine, testGpu } from "./engineHarness.js";
import { stableThreshold } from "../support/stableThreshold.js";

/**
 * f32 arithmetic on the CPU backend. Vulkan's batched matrix kernels round through f16 (measured on lavapipe: up to
 * 6e-2 in logits and 3e-3 in P(hard) for batched prefill, 2e-5 token by token), so GPU backends get a looser bound.
 */
const logitTolerance = testGpu === "cpu" ? 1e-4 : 0.1;
const pHardTolerance = testGpu === "cpu" ? 1e-4 : 5e-3;
const productLogitTolerance = 0.15;
const steps = 20;
const prompt = tokenize("def add(a, b):\n    return a + b\n\nclass Point:\n    def __init__(self, x):\n        self.x = x\n");

const shapes: Array<{ name: string; options: TinyTahOptions }> = [
    { name: "4 taps without the embedding tap, tied embeddings", options: { seed: 7, taps: [1, 2, 3, 4], tiedEmbeddings: true } },
    { name: "5 taps including tap 0, untied output", options: { seed: 11, taps: [0, 1, 2, 3, 4], tiedEmbeddings: false } }
];

function compare(engine: EngineRun, reference: ReferenceResult, tolerance: number): { maxLogitDiff: number } {
    assert.equal(engine.records.length, reference.records.length, "one record per position");
    let maxLogitDiff = 0;
    engine.records.forEach((record, i) => {
        const expected = reference.records[i];
        assert.equal(record.position, expected.position);
        assert.equal(record.token, expected.token, `token at position ${i}`);
        assert.equal(record.iterated, expected.iterated, `decision at position ${i} (P(hard) ${record.pHard} vs ${expected.pHard})`);
        assert.ok(Math.abs(record.pHard! - expected.pHard) <= pHardTolerance, `P(hard) at position ${i}: ${record.pHard} vs ${expected.pHard}`);
        maxLogitDiff = Math.max(maxLogitDiff, maxAbsDiff(record.finalLogits, expected.finalLogits));
    });
    assert.ok(maxLogitDiff <= tolerance, `final logits differ by ${maxLogitDiff}`);
    return { maxLogitDiff };
}

function maxDiffAgainst(engine: EngineRun, reference: ReferenceResult): number {
    return engine.records.reduce((max, record, i) => {
        const expected = reference.records[i];
        return expected === undefined ? max : Math.max(max, maxAbsDiff(record.finalLogits, expected.finalLogits));
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
    describe(`exactness: ${shape.name}`, () => {
        let modelDir = "";
        let model: Awaited<ReturnType<typeof generateTinyTah>>["model"];
        const thresholds: Record<"none" | "some" | "all", number> = { none: 1, some: 0, all: 0 };

        before(async () => {
            modelDir = await mkdtemp(path.join(os.tmpdir(), "tah-exact-"));
            folders.push(modelDir);
            model = (await generateTinyTah(modelDir, shape.options)).model;
            thresholds.some = stableThreshold(runReference(model, { promptTokens: prompt, steps, threshold: 1 }), 0.3, 0.01);
        });

        for (const iterating of ["none", "some", "all"] as const) {
            for (const prefill of ["batch", "chunked", "tokenByToken"] as const) {
                test(`${iterating} iterating, prefill ${prefill}`, async (t) => {
                    const options: ReferenceOptions = { promptTokens: prompt, steps, threshold: thresholds[iterating] };
                    const reference = runReference(model, options);
                    const iterated = reference.records.filter((record) => record.iterated).length;
                    if (iterating === "none")
                        assert.equal(iterated, 0);
                    else if (iterating === "all")
                        assert.equal(iterated, reference.records.length);
                    else
                        assert.ok(iterated > 0 && iterated < reference.records.length, `${iterated} of ${reference.records.length} iterate`);

                    const engine = await runEngine(patched, modelDir, { prompt, steps, threshold: thresholds[iterating], prefill, batchSize: 5 });
                    const { maxLogitDiff } = compare(engine, reference, logitTolerance);
                    assert.deepEqual(engine.generated.slice(0, steps), reference.generatedTokens.slice(0, steps));
                    t.diagnostic(`${iterated}/${reference.records.length} iterated, max |Δ final logit| ${maxLogitDiff.toExponential(2)}`);
                });
            }
        }

        test("negative controls: each broken reference is far from the engine", async (t) => {
            const threshold = thresholds.some;
            const engine = await runEngine(patched, modelDir, { prompt, steps, threshold, prefill: "chunked", batchSize: 5 });
            compare(engine, runReference(model, { promptTokens: prompt, steps, threshold }), logitTolerance);
            const controls: Array<[string, Partial<ReferenceOptions>]> = [
                ["depth 1 without LoRA", { depth1Lora: false }],
                ["a depth-0 query that sees depth-1 entries", { depth0SeesDepth1: true }],
                ["depth-1 input = hidden state, not the soft embedding", { depth1Input: "hidden" }]
            ];
            for (const [name, control] of controls) {
                const broken = runReference(model, { promptTokens: prompt, steps, threshold, ...control });
                const diff = maxDiffAgainst(engine, broken);
                assert.ok(diff > Math.max(1, 10 * logitTolerance), `${name}: the engine is within ${diff} of it`);
                t.diagnostic(`${name}: max |Δ| ${diff.toFixed(3)}`);
            }
        });

        test("product defaults (f16 KV cache, flash attention auto) stay close", async (t) => {
            const threshold = thresholds.some;
            const reference = runReference(model, { promptTokens: prompt, steps: 0, threshold });
            const engine = await runEngine(patched, modelDir, { prompt, steps: 0, threshold, prefill: "batch", kvType: "f16", flashAttention: "auto" });
            const diff = maxDiffAgainst(engine, reference);
            assert.ok(diff <= productLogitTolerance, `f16 KV differs by ${diff}`);
            t.diagnostic(`f16 KV + flash attention: max |Δ final logit| ${diff.toExponential(2)}`);
            engine.records.forEach((record, i) => assert.equal(record.iterated, reference.records[i].iterated, `decision at ${i}`));
        });
    });
}
