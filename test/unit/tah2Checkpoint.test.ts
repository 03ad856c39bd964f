import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { PickleDict } from "../../src/convert/restrictedUnpickler.js";
import { readSafetensorsCheckpoint } from "../../src/convert/safetensors.js";
import { loadTorchFile } from "../../src/convert/torchLoad.js";
import { TorchTensor } from "../../src/convert/torchPickleGlobals.js";
import { openTorchArchive } from "../../src/convert/torchZip.js";
import { loadTah2Checkpoint } from "../reference/tah2/loadTah2Checkpoint.js";
import { runTah2Reference } from "../reference/tah2/runTah2Reference.js";
import { createTah2Model, writeTah2Checkpoint, type Tah2Checkpoint } from "../support/tah2Checkpoint.js";
import { tinyVocabulary, tokenize } from "../support/tinyTokenizer.js";

let root = "";
let tied: Tah2Checkpoint;
let untied: Tah2Checkpoint;

before(async () => {
    root = await mkdtemp(path.join(tmpdir(), "tah2-checkpoint-"));
    tied = await writeTah2Checkpoint(path.join(root, "tied"), { seed: 5 });
    untied = await writeTah2Checkpoint(path.join(root, "untied"), { seed: 5, tiedEmbeddings: false, shards: 2, maxIter: 3, vocabPadding: 5, nHeadKv: 1 });
});

after(async () => {
    await rm(root, { recursive: true, force: true });
});

async function readJson(file: string): Promise<Record<string, unknown>> {
    return JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
}

async function editJson(file: string, edit: (json: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    await writeFile(file, JSON.stringify(edit(await readJson(file)), null, 2));
}

/** A copy of the tied checkpoint for a bad-input test. */
async function copyOfTied(name: string): Promise<string> {
    return (await writeTah2Checkpoint(path.join(root, name), { seed: 5 })).dir;
}

function dictOf(value: unknown): PickleDict {
    assert.ok(value instanceof PickleDict);
    return value;
}

describe("TaH2 checkpoint generator: upstream's layout", () => {
    it("writes exactly the files upstream's save writes", async () => {
        const common = ["config.json", "generation_config.json", "input_updater.bin", "iter_decider.bin", "special_tokens_map.json", "tah_config.json", "tokenizer.json", "tokenizer_config.json"];
        assert.deepEqual((await readdir(tied.dir)).sort(), [...common, "model.safetensors"].sort());
        assert.deepEqual((await readdir(untied.dir)).sort(),
            [...common, "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"].sort());
    });

    it("config.json is a plain Qwen3 config, keys sorted, bf16, eos = pad = <|im_end|>", async () => {
        const text = await readFile(path.join(untied.dir, "config.json"), "utf8");
        const config = JSON.parse(text) as Record<string, unknown>;
        assert.deepEqual(Object.keys(config), Object.keys(config).sort());
        const imEnd = tinyVocabulary.special["<|im_end|>"];
        assert.equal(config.eos_token_id, imEnd);
        assert.equal(config.pad_token_id, imEnd);
        assert.equal(config.torch_dtype, "bfloat16");
        assert.equal(config.dtype, "bfloat16");
        assert.equal(config.rope_scaling, null);
        assert.equal(config.tie_word_embeddings, false);
        assert.equal(config.num_key_value_heads, 1);
        assert.equal(config.vocab_size, tinyVocabulary.tokens.length + 5);
        const generation = await readJson(path.join(untied.dir, "generation_config.json"));
        assert.equal(generation.eos_token_id, imEnd);
        assert.equal(generation.pad_token_id, imEnd);
        const tokenizerConfig = await readJson(path.join(untied.dir, "tokenizer_config.json"));
        assert.equal(tokenizerConfig.eos_token, "<|im_end|>");
        assert.equal(tokenizerConfig.pad_token, "<|im_end|>");
    });

    it("tah_config.json names the TaH2 classes, the DUO mask, the stop-probability mixture and both kwargs", async () => {
        const tah = await readJson(path.join(untied.dir, "tah_config.json"));
        assert.equal(tah.max_iter, 3);
        assert.equal(tah.input_updater, "Qwen3MLPUpdater");
        assert.equal(tah.iter_decider, "Qwen3MLPIterDecider");
        assert.equal(tah.iter_attention_mode, "duo");
        assert.equal(tah.weighted_hidden_method, "stop_prob_mix");
        assert.deepEqual(tah.iter_decider_kwargs, { hidden_size: 32, intermediate_size: 40, threshold: 0.5, topk: 32 });
        assert.deepEqual(tah.input_updater_kwargs, { hidden_size: 32, intermediate_size: 48 });
    });

    it("the backbone is bf16 under Hugging Face's names; lm_head only when untied", async () => {
        const tiedTensors = await readSafetensorsCheckpoint(tied.dir);
        const untiedTensors = await readSafetensorsCheckpoint(untied.dir);
        assert.ok([...tiedTensors.values(), ...untiedTensors.values()].every((t) => t.dtype === "BF16"));
        assert.equal(tiedTensors.has("lm_head.weight"), false);
        assert.deepEqual(untiedTensors.get("lm_head.weight")?.shape, [tinyVocabulary.tokens.length + 5, 32]);
        assert.deepEqual([...untiedTensors.keys()].filter((name) => name !== "lm_head.weight").sort(), [...tiedTensors.keys()].sort());
        assert.equal(tiedTensors.size, 1 + 11 * 2 + 1);
        assert.deepEqual(untiedTensors.get("model.layers.0.self_attn.k_proj.weight")?.shape, [8, 32]);
    });

    it("input_updater.bin and iter_decider.bin are torch.save dicts with the specification's keys, bf16", async () => {
        const updater = await loadTorchFile(path.join(tied.dir, "input_updater.bin"), 1 << 26);
        const u = dictOf(updater.root);
        assert.deepEqual([...u.entries.keys()], ["class", "state_dict", "init_args"]);
        assert.equal(u.get("class"), "Qwen3MLPUpdater");
        assert.deepEqual([...dictOf(u.get("init_args")).entries], [["hidden_size", 32], ["intermediate_size", 48]]);
        const updaterState = dictOf(u.get("state_dict"));
        assert.deepEqual([...updaterState.entries.keys()], [
            "projection.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
            "norm_prev.weight", "norm_last.weight", "norm_pre_mlp.weight", "norm_out.weight",
        ]);

        const decider = await loadTorchFile(path.join(tied.dir, "iter_decider.bin"), 1 << 26);
        const d = dictOf(decider.root);
        assert.equal(d.get("class"), "Qwen3MLPIterDecider");
        assert.deepEqual([...dictOf(d.get("init_args")).entries], [
            ["hidden_size", 32], ["intermediate_size", 40], ["threshold", 0.5], ["topk", 32], ["max_iter", 2], ["memory_lean_fp32_reductions", true],
        ]);
        const deciderState = dictOf(d.get("state_dict"));
        assert.deepEqual([...deciderState.entries.keys()], [
            "threshold", "norm_first.weight", "norm_last.weight", "norm_l.weight", "input_proj.weight",
            "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight", "norm_out.weight", "score.weight",
        ]);
        const threshold = deciderState.get("threshold");
        assert.ok(threshold instanceof TorchTensor);
        assert.deepEqual(threshold.shape, []);
        assert.deepEqual([...decider.values(threshold, "threshold")], [0.5]);
        for (const state of [updaterState, deciderState]) {
            for (const tensor of state.entries.values()) {
                assert.ok(tensor instanceof TorchTensor);
                assert.equal(tensor.storage.dtype, "bfloat16");
            }
        }
        // torch.save to a path names the archive folder after the file.
        for (const stem of ["input_updater", "iter_decider"]) {
            const archive = await openTorchArchive(path.join(tied.dir, `${stem}.bin`));
            archive.close();
            assert.equal(archive.prefix, `${stem}/`);
        }
    });

    it("the same seed and options give the same weights; another seed others", () => {
        assert.deepEqual(createTah2Model({ seed: 5 }).model, tied.model);
        assert.notDeepEqual(createTah2Model({ seed: 6 }).model.backbone.tokenEmbd, tied.model.backbone.tokenEmbd);
    });
});

describe("TaH2 checkpoint loader", () => {
    it("reads back exactly the weights the generator stored", async () => {
        assert.deepEqual(await loadTah2Checkpoint(tied.dir), tied.model);
        assert.deepEqual(await loadTah2Checkpoint(untied.dir), untied.model);
    });

    it("the reference runs from the files on disk as from memory", async () => {
        const promptTokens = tokenize("def f(x):\n    return x\n");
        const fromDisk = runTah2Reference(await loadTah2Checkpoint(untied.dir), { promptTokens, steps: 3 });
        const fromMemory = runTah2Reference(untied.model, { promptTokens, steps: 3 });
        assert.deepEqual(fromDisk, fromMemory);
        assert.ok(fromDisk.records.some((r) => r.depth > 0));
    });

    it("takes the threshold from tah_config.json, rounded to bf16, else from the decider's buffer", async () => {
        const dir = (await writeTah2Checkpoint(path.join(root, "threshold"), { seed: 5, threshold: 0.7 })).dir;
        assert.equal((await loadTah2Checkpoint(dir)).threshold, 0.69921875);
        const tahConfig = path.join(dir, "tah_config.json");
        await editJson(tahConfig, (tah) => ({ ...tah, iter_decider_kwargs: { ...(tah.iter_decider_kwargs as object), threshold: 0.6 } }));
        assert.equal((await loadTah2Checkpoint(dir)).threshold, 0.6015625);
        await editJson(tahConfig, (tah) => {
            const kwargs = { ...(tah.iter_decider_kwargs as Record<string, unknown>) };
            delete kwargs.threshold;
            return { ...tah, iter_decider_kwargs: kwargs };
        });
        assert.equal((await loadTah2Checkpoint(dir)).threshold, 0.69921875);
    });

    it("refuses a decider whose topk is not hidden_size", async () => {
        const dir = (await writeTah2Checkpoint(path.join(root, "topk"), { seed: 5, deciderTopK: 16 })).dir;
        await assert.rejects(loadTah2Checkpoint(dir), /topk 16 is not hidden_size 32/);
    });

    it("refuses what the reference cannot compute: another mask or mixture, other classes, one depth, rope_scaling", async () => {
        const cases: [string, string, (json: Record<string, unknown>) => Record<string, unknown>, RegExp][] = [
            ["causal", "tah_config.json", (tah) => ({ ...tah, iter_attention_mode: "causal" }), /iter_attention_mode/],
            ["even-mix", "tah_config.json", (tah) => ({ ...tah, weighted_hidden_method: "even_mix" }), /weighted_hidden_method/],
            ["updater-class", "tah_config.json", (tah) => ({ ...tah, input_updater: "IdentityUpdater" }), /input_updater/],
            ["decider-class", "tah_config.json", (tah) => ({ ...tah, iter_decider: "AlwaysIterDecider" }), /iter_decider/],
            ["one-depth", "tah_config.json", (tah) => ({ ...tah, max_iter: 1 }), /max_iter/],
            ["rope-scaling", "config.json", (config) => ({ ...config, rope_scaling: { rope_type: "yarn", factor: 4 } }), /rope_scaling/],
        ];
        for (const [name, file, edit, message] of cases) {
            const dir = await copyOfTied(name);
            await editJson(path.join(dir, file), edit);
            await assert.rejects(loadTah2Checkpoint(dir), message, name);
        }
    });

    it("refuses a component file of another class", async () => {
        const dir = await copyOfTied("swapped");
        await writeFile(path.join(dir, "input_updater.bin"), await readFile(path.join(dir, "iter_decider.bin")));
        await assert.rejects(loadTah2Checkpoint(dir), /class is "Qwen3MLPIterDecider", expected "Qwen3MLPUpdater"/);
    });
});
