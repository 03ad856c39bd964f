/**
 * Converted checkpoints run in the engine exactly as the float64 reference computes them from the checkpoint's own
 * tensors: the same decisions, P(hard) within 1e-4, final logits within 1e-4 with an f32 KV cache (as
 * exactness.test.ts), the same greedy tokens — for a single-file F32 checkpoint with a float32 decider and tied
 * embeddings, and a sharded BF16 one with a bfloat16 decider, untied embeddings and a padded vocabulary (its
 * reference weights are the bf16-rounded values the checkpoint holds).
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { convertCheckpoint } from "../../src/convert/convertCheckpoint.js";
import { TahModel } from "../../src/engine/model/TahModel.js";
import { loadPatchedLlama, type PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { runReference, type ReferenceResult } from "../reference/runReference.js";
import type { TahModel as ReferenceModel } from "../reference/tahModel.js";
import { stableThreshold } from "../support/stableThreshold.js";
import { writeSyntheticCheckpoint, type SyntheticCheckpointOptions } from "../support/syntheticCheckpoint.js";
import { createTinyTah, type TinyTahOptions } from "../support/tinyTah.js";
import { chatTemplate, tinyVocabulary, tokenize } from "../support/tinyTokenizer.js";
import { maxAbsDiff, runEngine, type EngineRun } from "./engineHarness.js";

const tolerance = 1e-4;
const steps = 12;
const prompt = tokenize("def add(a, b):\n    return a + b\n\nclass Point:\n    def __init__(self, x):\n        self.x = x\n");

const variants: Array<{ name: string; tiny: TinyTahOptions; checkpoint: SyntheticCheckpointOptions }> = [
    {
        name: "model.safetensors in F32, float32 decider, tied embeddings, 4 taps",
        tiny: { seed: 7, taps: [1, 2, 3, 4], tiedEmbeddings: true },
        checkpoint: { deciderDtype: "float32" },
    },
    {
        name: "3 shards in BF16, BF16 LoRA, bfloat16 decider, untied embeddings, 5 taps, padded vocabulary",
        tiny: { seed: 11, taps: [0, 1, 2, 3, 4], tiedEmbeddings: false },
        checkpoint: {
            shards: 3, backboneDtype: "BF16", loraDtype: "BF16", deciderDtype: "bfloat16", vocabPadding: 9,
            mergesAsPairs: true, adapterSegment: true, torchPrefix: "iter_decider",
        },
    },
];

function compare(engine: EngineRun, reference: ReferenceResult): number {
    assert.equal(engine.records.length, reference.records.length, "one record per position");
    let maxDiff = 0;
    engine.records.forEach((record, i) => {
        const expected = reference.records[i];
        assert.equal(record.token, expected.token, `token at ${i}`);
        assert.equal(record.iterated, expected.iterated, `decision at ${i} (P(hard) ${record.pHard} vs ${expected.pHard})`);
        assert.ok(Math.abs(record.pHard! - expected.pHard) <= tolerance, `P(hard) at ${i}: ${record.pHard} vs ${expected.pHard}`);
        maxDiff = Math.max(maxDiff, maxAbsDiff(record.finalLogits, expected.finalLogits));
    });
    assert.ok(maxDiff <= tolerance, `final logits differ by ${maxDiff}`);
    assert.deepEqual(engine.generated.slice(0, steps), reference.generatedTokens.slice(0, steps));
    return maxDiff;
}

let patched: PatchedLlama;
let root = "";

before(async () => {
    patched = await loadPatchedLlama({ gpu: "cpu" });
    root = await mkdtemp(path.join(os.tmpdir(), "tah-convert-exact-"));
});

after(async () => {
    await patched.llama.dispose();
    await rm(root, { recursive: true, force: true });
});

variants.forEach((variant, index) => {
    describe(`converted checkpoint: ${variant.name}`, () => {
        let model = "";
        let expected: ReferenceModel;
        let someThreshold = 0;

        before(async () => {
            const tiny = createTinyTah(variant.tiny);
            const checkpoint = await writeSyntheticCheckpoint(path.join(root, `checkpoint-${index}`), tiny, variant.checkpoint);
            // The model's own threshold (tah_config.json) is set where it leaves a margin, so the default run is stable.
            someThreshold = Math.fround(stableThreshold(runReference(checkpoint.expected, { promptTokens: prompt, steps, threshold: 1 }), 0.3, 0.01));
            const configFile = path.join(checkpoint.dir, "tah_config.json");
            const config = JSON.parse(await readFile(configFile, "utf8")) as { iter_decider_kwargs: Record<string, unknown> };
            config.iter_decider_kwargs.threshold = someThreshold;
            config.iter_decider_kwargs.dtype = { __dtype__: true, __str__: "torch.float32" };
            await writeFile(configFile, JSON.stringify(config));
            expected = { ...checkpoint.expected, threshold: someThreshold };
            model = path.join(root, `model-${index}`);
            await convertCheckpoint({ checkpointDir: checkpoint.dir, outDir: model, type: "f32", sync: false });
        });

        test("none, some and all iterating: the engine matches the reference", async (t) => {
            for (const [label, threshold] of [["none", 1], ["some", someThreshold], ["all", 0]] as const) {
                const reference = runReference(expected, { promptTokens: prompt, steps, threshold });
                const engine = await runEngine(patched, model, { prompt, steps, threshold, prefill: "chunked", batchSize: 7 });
                const maxDiff = compare(engine, reference);
                const iterated = reference.records.filter((record) => record.iterated).length;
                if (label === "some")
                    assert.ok(iterated > 0 && iterated < reference.records.length, `${iterated} of ${reference.records.length} iterate`);
                t.diagnostic(`${label}: ${iterated}/${reference.records.length} iterated, max |Δ final logit| ${maxDiff.toExponential(2)}`);
            }
        });

        test("the model's own threshold is tah_config.json's, and the default run uses it", async () => {
            const loaded = await TahModel.load(patched, model);
            try {
                // the addon reports the float32 threshold to about 7 digits
                assert.ok(Math.abs(loaded.defaultThreshold - someThreshold) < 1e-6, `${loaded.defaultThreshold} vs ${someThreshold}`);
            } finally {
                await loaded.dispose();
            }
            const engine = await runEngine(patched, model, { prompt, steps, prefill: "batch" });
            compare(engine, runReference(expected, { promptTokens: prompt, steps }));
        });

        test("tokenizer, special tokens, FIM tokens and chat template survive the conversion", async () => {
            const loaded = await TahModel.load(patched, model);
            try {
                const text = "def add(a, b):\n    return a + b  # héllo ✓\n";
                assert.deepEqual(loaded.tokenize(text), tokenize(text));
                assert.equal(loaded.detokenize(tokenize(text)), text);
                const special = "<|im_start|>user\nhi<|im_end|>\n";
                assert.deepEqual(loaded.tokenize(special, true), tokenize(special, { specials: true }));
                assert.ok(loaded.isEndOfGeneration(tinyVocabulary.special["<|im_end|>"]));
                assert.deepEqual(loaded.fimTokens, {
                    prefix: tinyVocabulary.special["<|fim_prefix|>"], suffix: tinyVocabulary.special["<|fim_suffix|>"],
                    middle: tinyVocabulary.special["<|fim_middle|>"], pad: tinyVocabulary.special["<|fim_pad|>"],
                    repoName: tinyVocabulary.special["<|repo_name|>"], fileSeparator: tinyVocabulary.special["<|file_sep|>"],
                });
                assert.equal(loaded.chatTemplate, chatTemplate);
                assert.equal(loaded.vocabularySize, expected.config.nVocab);
            } finally {
                await loaded.dispose();
            }
        });
    });
});
