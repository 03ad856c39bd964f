/**
 * Every `--type` round-trips: one BF16 checkpoint (hidden size 256, FFN 512, so every matrix row holds whole
 * 256-element k-quant blocks and llama.cpp needs no fallback types) is converted to each type, loaded and run in
 * the engine; the f32 conversion matches the reference, and every other type is reported against it: file sizes,
 * the largest final-logit difference over the prompt, and how many decisions flipped.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { convertCheckpoint, type ConvertResult } from "../../src/convert/convertCheckpoint.js";
import { outputTypeNames, type OutputTypeName } from "../../src/convert/outputTypes.js";
import { loadPatchedLlama, type PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { GgmlType } from "../../src/gguf/ggufTypes.js";
import { runReference } from "../reference/runReference.js";
import type { TahModel as ReferenceModel } from "../reference/tahModel.js";
import { readGgufContents } from "../support/ggufTensors.js";
import { stableThreshold } from "../support/stableThreshold.js";
import { writeSyntheticCheckpoint } from "../support/syntheticCheckpoint.js";
import { createTinyTah } from "../support/tinyTah.js";
import { tokenize } from "../support/tinyTokenizer.js";
import { maxAbsDiff, runEngine, type EngineRun } from "./engineHarness.js";

const prompt = tokenize("def add(a, b):\n    return a + b\n\nfor i in range(10):\n    print(add(i, i))\n");
/** Set from the reference so that about 30% of positions iterate, 0.02 away from every P(hard). */
let threshold = 0;

/** The type llama.cpp gives attn_q for each --type (its mixes keep some tensors at higher precision). */
const attnQType: Partial<Record<OutputTypeName, number>> = {
    f32: GgmlType.F32, f16: GgmlType.F16, bf16: GgmlType.BF16, q8_0: GgmlType.Q8_0, q6_k: GgmlType.Q6_K, q5_1: GgmlType.Q5_1,
    q5_0: GgmlType.Q5_0, q4_k_m: GgmlType.Q4_K, q4_k_s: GgmlType.Q4_K, q4_1: GgmlType.Q4_1, q4_0: GgmlType.Q4_0,
};

/**
 * Bounds on the largest logit difference to f32 for the types that keep 8 bits or more, with no decision flipped
 * (logits here span about ±12; random weights through 4 layers amplify rounding more than trained ones).
 */
const maxDiffBound: Partial<Record<OutputTypeName, number>> = { f16: 0.1, bf16: 0.4, q8_0: 1 };

let patched: PatchedLlama;
let root = "";
let checkpointDir = "";
let expected: ReferenceModel;

before(async () => {
    patched = await loadPatchedLlama({ gpu: "cpu" });
    root = await mkdtemp(path.join(os.tmpdir(), "tah-convert-types-"));
    const tiny = createTinyTah({ seed: 21, nLayer: 4, nEmbd: 256, nFf: 512, nHead: 4, nHeadKv: 2, headDim: 64, taps: [1, 2, 3], deciderWidth: 32, embeddingStd: 0.1 });
    const checkpoint = await writeSyntheticCheckpoint(path.join(root, "checkpoint"), tiny, { backboneDtype: "BF16", loraDtype: "BF16", deciderDtype: "bfloat16" });
    checkpointDir = checkpoint.dir;
    expected = checkpoint.expected;
    threshold = stableThreshold(runReference(expected, { promptTokens: prompt, steps: 0, threshold: 1 }), 0.3, 0.02);
});

after(async () => {
    await patched.llama.dispose();
    await rm(root, { recursive: true, force: true });
});

function kib(bytes: number): string {
    return `${(bytes / 1024).toFixed(1)} KiB`;
}

test("every --type converts, loads and runs; sizes and logit differences to f32", async (t) => {
    const runs = new Map<OutputTypeName, { result: ConvertResult; engine: EngineRun }>();
    for (const type of outputTypeNames) {
        const out = path.join(root, type);
        const result = await convertCheckpoint({
            checkpointDir, outDir: out, type, threads: 2, sync: false,
            quantize: (input, output, options) => patched.bindings.tahQuantize(input, output, options),
        });
        const backbone = await readGgufContents(path.join(out, "backbone.gguf"));
        const expectedType = attnQType[type];
        if (expectedType !== undefined)
            assert.equal(backbone.tensors.get("blk.1.attn_q.weight")!.type, expectedType, `${type}: attn_q type`);
        assert.equal(backbone.tensors.get("blk.1.attn_norm.weight")!.type, GgmlType.F32, `${type}: norms stay F32`);
        runs.set(type, { result, engine: await runEngine(patched, out, { prompt, steps: 0, threshold, prefill: "batch" }) });
    }

    const f32 = runs.get("f32")!.engine;
    const reference = runReference(expected, { promptTokens: prompt, steps: 0, threshold });
    const referenceDiff = Math.max(...f32.records.map((record, i) => maxAbsDiff(record.finalLogits, reference.records[i].finalLogits)));
    assert.ok(referenceDiff <= 1e-4, `the f32 conversion differs from the reference by ${referenceDiff}`);
    f32.records.forEach((record, i) => assert.equal(record.iterated, reference.records[i].iterated, `f32 decision at ${i}`));
    const iterated = f32.records.filter((record) => record.iterated).length;
    t.diagnostic(`f32 vs reference: max |Δ final logit| ${referenceDiff.toExponential(2)}, ${iterated}/${f32.records.length} positions iterate at threshold ${threshold.toFixed(4)}`);

    const backboneBytes = (type: OutputTypeName): number => runs.get(type)!.result.files.find((file) => file.name === "backbone.gguf")!.bytes;
    const scale = Math.max(...f32.records.map((record) => Math.max(...record.finalLogits.map(Math.abs))));
    t.diagnostic(`largest |final logit| in the f32 run: ${scale.toFixed(2)}`);
    for (const [type, { result, engine }] of runs) {
        // A flipped decision adds or drops a whole depth-1 logit vector, so final logits are compared where decisions agree.
        const agree = engine.records.map((record, i) => record.iterated === f32.records[i].iterated);
        const depth0 = Math.max(...engine.records.map((record, i) => maxAbsDiff(record.depth0Logits, f32.records[i].depth0Logits)));
        const final = Math.max(0, ...engine.records.map((record, i) => (agree[i] ? maxAbsDiff(record.finalLogits, f32.records[i].finalLogits) : 0)));
        const flipped = agree.filter((same) => !same).length;
        assert.ok(Number.isFinite(depth0) && Number.isFinite(final), `${type}: finite logits`);
        const bound = maxDiffBound[type];
        if (bound !== undefined)
            assert.ok(depth0 <= bound && final <= bound && flipped === 0, `${type}: max |Δ| ${depth0} / ${final}, ${flipped} flipped, bound ${bound}`);
        const sizes = result.files.filter((file) => file.name.endsWith(".gguf")).map((file) => `${file.name} ${kib(file.bytes)}`).join(", ");
        t.diagnostic(`${type.padEnd(7)} ${sizes}; max |Δ| vs f32: depth-0 logits ${depth0.toFixed(4)}, final logits ${final.toFixed(4)} (where decisions agree); decisions flipped ${flipped}/${engine.records.length}`);
    }
    assert.ok(backboneBytes("q4_k_m") < backboneBytes("q8_0") && backboneBytes("q8_0") < backboneBytes("f16") && backboneBytes("f16") < backboneBytes("f32"));
});
