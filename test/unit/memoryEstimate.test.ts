/** The memory estimate against figures computed elsewhere from the same shapes, and the default type's choice. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { catalogueEntry, qwen3_0_6b } from "../../src/models/catalogue.js";
import { bitsPerWeight, chooseDefaultType, defaultTypeOrder, estimateMemory, loraParameterCount, memoryShareForModel, parameterCount, type ModelShape } from "../../src/models/memoryEstimate.js";

const qwen3_1_7b = catalogueEntry("tah-plus-1.7b")!.shape;
const GiB = 2 ** 30;

test("parameter counts match the published ones", () => {
    // tah-inference.md §1.1, computed there from the checkpoints' shapes.
    assert.equal(loraParameterCount(qwen3_1_7b, 32), 34_865_152);
    assert.equal(loraParameterCount(qwen3_0_6b, 16), 10_092_544);
    // Qwen3-1.7B's model card: 1.7B parameters, 1.4B without the (tied) embedding.
    const embedding = qwen3_1_7b.vocabSize * qwen3_1_7b.nEmbd;
    assert.ok(Math.abs(parameterCount(qwen3_1_7b) - 1.72e9) < 0.02e9, String(parameterCount(qwen3_1_7b)));
    assert.ok(Math.abs(parameterCount(qwen3_1_7b) - embedding - 1.41e9) < 0.02e9);
    // An untied head counts the embedding twice.
    const untied: ModelShape = { ...qwen3_1_7b, tiedEmbeddings: false };
    assert.equal(parameterCount(untied) - parameterCount(qwen3_1_7b), embedding);
});

test("the KV cache: cells × layers × KV heads × head size × K and V × f16, and TaH's depth-1 cells on top", () => {
    const plain = estimateMemory(qwen3_1_7b, { type: "q8_0", contextTokens: 8192 });
    assert.equal(plain.kvCacheBytes, 8192 * 28 * 8 * 128 * 2 * 2);
    const tah = estimateMemory(qwen3_1_7b, { type: "q8_0", contextTokens: 8192, tah: { loraRank: 32, iterateShare: 0.5 } });
    assert.equal(tah.kvCacheBytes, Math.ceil(8192 * 1.5 * 28 * 8 * 128 * 4));
    assert.equal(estimateMemory(qwen3_1_7b, { type: "q8_0", contextTokens: 16384 }).kvCacheBytes, plain.kvCacheBytes * 2);
    // TaH's LoRA (16-bit) and decider add to the weights.
    assert.ok(tah.weightsBytes - plain.weightsBytes >= 34_865_152 * 2);
});

test("weights follow the type's bits per weight, and the totals are ordered by them", () => {
    const totals = (["f32", "f16", "q8_0", "q6_k", "q4_k_m", "q2_k"] as const).map((type) => estimateMemory(qwen3_1_7b, { type }));
    for (let i = 1; i < totals.length; i++)
        assert.ok(totals[i].totalBytes < totals[i - 1].totalBytes);
    assert.equal(totals[1].weightsBytes, Math.ceil((parameterCount(qwen3_1_7b) * 16) / 8));
    assert.equal(bitsPerWeight.q8_0, 8.5, "Q8_0: 32 int8 and one f16 scale per block");
    for (const e of totals)
        assert.equal(e.totalBytes, e.weightsBytes + e.kvCacheBytes + e.computeBytes + 256 * 2 ** 20);
});

test("the default type is the best one whose estimate fits in the machine's share, with q4_k_m as the floor", () => {
    const tah = { loraRank: 32 };
    assert.equal(chooseDefaultType(qwen3_1_7b, 64 * GiB, { tah }).type, "q8_0");
    // At every memory size, the choice fits and the type before it in the order does not.
    for (const gib of [4, 6, 7, 8, 12, 16, 32]) {
        const choice = chooseDefaultType(qwen3_1_7b, gib * GiB, { tah, contextTokens: 4096 });
        const budget = gib * GiB * memoryShareForModel;
        const index = defaultTypeOrder.indexOf(choice.type);
        if (choice.fits) {
            assert.ok(choice.estimate.totalBytes <= budget, `${gib} GiB`);
            if (index > 0)
                assert.ok(estimateMemory(qwen3_1_7b, { type: defaultTypeOrder[index - 1], tah, contextTokens: 4096 }).totalBytes > budget, `${gib} GiB`);
        } else {
            assert.equal(choice.type, "q4_k_m");
            assert.ok(choice.estimate.totalBytes > budget);
        }
    }
    const small = chooseDefaultType(qwen3_1_7b, 2 * GiB, { tah });
    assert.deepEqual([small.type, small.fits], ["q4_k_m", false]);
    // A longer context needs more memory for the same type, so the choice can only go down.
    const short = defaultTypeOrder.indexOf(chooseDefaultType(qwen3_1_7b, 8 * GiB, { tah, contextTokens: 2048 }).type);
    const long = defaultTypeOrder.indexOf(chooseDefaultType(qwen3_1_7b, 8 * GiB, { tah, contextTokens: 32768 }).type);
    assert.ok(long >= short);
});
