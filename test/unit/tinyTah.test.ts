import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { readGgufFileInfo, type GgufFileInfo } from "node-llama-cpp";
import { decodeFloat16 } from "../../src/gguf/floatEncoding.js";
import { GgmlType } from "../../src/gguf/ggufTypes.js";
import { runReference } from "../reference/runReference.js";
import { createTinyTah, generateTinyTah, tinyTahDefaults, writeTinyBackbone } from "../support/tinyTah.js";
import { detokenize, tinyVocabulary, tokenize } from "../support/tinyTokenizer.js";

let dir = "";
before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tiny-tah-"));
});
after(async () => {
    await rm(dir, { recursive: true, force: true });
});

function metadataAt(info: GgufFileInfo, key: string): unknown {
    let node: unknown = info.metadata;
    for (const part of key.split("."))
        node = (node as Record<string, unknown>)[part];
    return node;
}

function dimsByName(info: GgufFileInfo): Map<string, number[]> {
    return new Map(info.tensorInfo!.map((t) => [t.name, t.dimensions.map(Number)]));
}

async function tensorBytes(file: string, info: GgufFileInfo, name: string, length: number): Promise<Buffer> {
    const tensor = info.tensorInfo!.find((t) => t.name === name)!;
    const start = Number(tensor.fileOffset);
    return (await readFile(file)).subarray(start, start + length);
}

describe("tiny tokenizer", () => {
    it("has byte tokens, merge results and control specials", () => {
        const v = tinyVocabulary;
        assert.ok(v.tokens.length >= 300 && v.tokens.length <= 400, `${v.tokens.length} tokens`);
        assert.equal(new Set(v.tokens).size, v.tokens.length);
        assert.equal(v.tokens[32], "Ġ");
        assert.equal(v.tokens[10], "Ċ");
        assert.equal(v.tokens[65], "A");
        for (const merge of v.merges) {
            const [left, right] = merge.split(" ");
            assert.ok(v.tokens.indexOf(left) >= 0 && v.tokens.indexOf(right) >= 0 && v.tokens.indexOf(left + right) >= 0, merge);
        }
        assert.equal(v.tokenTypes[v.special["<|im_end|>"]], 3);
        assert.equal(v.tokenTypes[v.special["<|im_end|>"] - 11], 1);
        assert.equal(v.tokenTypes.filter((t) => t === 3).length, 11);
    });

    it("tokenizes with merges and specials, and detokenizes back", () => {
        const text = "def f(x):\n    return the world + é ✓";
        const ids = tokenize(text);
        assert.equal(detokenize(ids), text);
        assert.ok(ids.includes(tinyVocabulary.tokens.indexOf("Ġthe")));
        assert.ok(ids.includes(tinyVocabulary.tokens.indexOf("Ġreturn")));
        assert.ok(ids.includes(tinyVocabulary.tokens.indexOf("ĠĠĠ")));
        const chat = "<|im_start|>user\nhi<|im_end|>\n";
        const chatIds = tokenize(chat, { specials: true });
        assert.equal(chatIds[0], tinyVocabulary.special["<|im_start|>"]);
        assert.equal(detokenize(chatIds, { specials: true }), chat);
        assert.equal(detokenize(chatIds), "user\nhi\n");
        assert.ok(!tokenize(chat).includes(tinyVocabulary.special["<|im_start|>"]));
    });

    it("reaches every merge result: each merged token's text tokenizes to that token", () => {
        for (const merge of tinyVocabulary.merges) {
            const id = tinyVocabulary.tokens.indexOf(merge.replace(" ", ""));
            assert.deepEqual(tokenize(detokenize([id])), [id], merge);
        }
    });
});

describe("tiny TaH generator", () => {
    it("is deterministic from the seed, and untied models share all other weights", () => {
        const a = createTinyTah();
        const b = createTinyTah();
        assert.deepEqual(a.model.layers[2].wq, b.model.layers[2].wq);
        assert.deepEqual(a.model.decider.output.weight, b.model.decider.output.weight);
        const other = createTinyTah({ seed: 2 });
        assert.notDeepEqual(a.model.layers[2].wq, other.model.layers[2].wq);
        const untied = createTinyTah({ tiedEmbeddings: false });
        assert.deepEqual(untied.model.layers[5].wDown, a.model.layers[5].wDown);
        assert.deepEqual(untied.model.tokenEmbd, a.model.tokenEmbd);
        assert.ok(untied.model.output !== null && a.model.output === null);
    });

    it("has default scales that give few-unit logits, spread P(hard) and a visible LoRA", () => {
        const tiny = createTinyTah();
        const prompt = tokenize("<|im_start|>user\nWrite hello world in the code<|im_end|>\n<|im_start|>assistant\n", { specials: true });
        const result = runReference(tiny.model, { promptTokens: prompt, steps: 4 });
        const p = result.records.map((r) => r.pHard);
        assert.ok(Math.min(...p) < 0.3 && Math.max(...p) > 0.7, `P(hard) in [${Math.min(...p)}, ${Math.max(...p)}]`);
        const maxLogit = Math.max(...result.records.map((r) => Math.max(...r.logitsDepth0.map(Math.abs))));
        assert.ok(maxLogit > 2 && maxLogit < 20, `max |logit| ${maxLogit}`);
        const withLora = runReference(tiny.model, { promptTokens: prompt, steps: 0, threshold: 0 });
        const without = runReference(tiny.model, { promptTokens: prompt, steps: 0, threshold: 0, depth1Lora: false });
        const deltas = withLora.records.map((r, i) =>
            Math.max(...r.logitsDepth1!.map((value, v) => Math.abs(value - without.records[i].logitsDepth1![v]))));
        assert.ok(Math.min(...deltas) > 0.3 && Math.max(...deltas) < 10, `LoRA max |Δ| in [${Math.min(...deltas)}, ${Math.max(...deltas)}]`);
        const shifted = createTinyTah({ deciderBias: 3 });
        const shiftedP = runReference(shifted.model, { promptTokens: prompt, steps: 0 }).records.map((r) => r.pHard);
        assert.ok(shiftedP.every((value, i) => value > p[i]));
    });

    it("writes the TaH folder as docs/model-format.md describes", async () => {
        const out = path.join(dir, "tah");
        const tiny = await generateTinyTah(out, { seed: 3 });
        const { nLayer, nEmbd, nVocab, nFf } = tiny.model.config;
        const manifest: unknown = JSON.parse(await readFile(tiny.paths.manifest, "utf8"));
        assert.deepEqual(manifest, {
            format: "tah-copilot-model", version: 1, name: "tiny-tah-seed3",
            backbone: "backbone.gguf", lora: "lora.gguf", decider: "decider.gguf",
            source: { checkpoint: "test/support/tinyTah.ts seed 3", type: "f32" },
        });

        const backbone = await readGgufFileInfo(tiny.paths.backbone, { logWarnings: false });
        assert.equal(metadataAt(backbone, "general.architecture"), "qwen3");
        assert.equal(metadataAt(backbone, "qwen3.block_count"), nLayer);
        assert.equal(metadataAt(backbone, "qwen3.attention.head_count_kv"), 2);
        assert.equal(metadataAt(backbone, "qwen3.attention.layer_norm_rms_epsilon"), Math.fround(1e-6));
        assert.equal(metadataAt(backbone, "tokenizer.ggml.pre"), "qwen2");
        assert.equal((metadataAt(backbone, "tokenizer.ggml.tokens") as string[]).length, nVocab);
        const eos = metadataAt(backbone, "tokenizer.ggml.eos_token_id") as number;
        assert.equal(tinyVocabulary.tokens[eos], "<|im_end|>");
        assert.equal(tinyVocabulary.tokens[metadataAt(backbone, "tokenizer.ggml.fim_mid_token_id") as number], "<|fim_middle|>");
        assert.match(metadataAt(backbone, "tokenizer.chat_template") as string, /add_generation_prompt/);
        const dims = dimsByName(backbone);
        assert.deepEqual(dims.get("token_embd.weight"), [nEmbd, nVocab]);
        assert.equal(dims.has("output.weight"), false);
        assert.deepEqual(dims.get(`blk.${nLayer - 1}.attn_k.weight`), [nEmbd, 32]);
        assert.deepEqual(dims.get("blk.0.ffn_down.weight"), [nFf, nEmbd]);
        assert.deepEqual(dims.get("blk.0.attn_q_norm.weight"), [16]);
        assert.equal(dims.size, 2 + 11 * nLayer);
        const embd = await tensorBytes(tiny.paths.backbone, backbone, "token_embd.weight", nVocab * nEmbd * 4);
        assert.deepEqual(new Float32Array(embd.buffer.slice(embd.byteOffset, embd.byteOffset + embd.length)), tiny.model.tokenEmbd);

        const lora = await readGgufFileInfo(tiny.paths.lora, { logWarnings: false });
        assert.equal(metadataAt(lora, "general.type"), "adapter");
        assert.equal(metadataAt(lora, "adapter.type"), "lora");
        assert.equal(metadataAt(lora, "adapter.lora.alpha"), 8);
        const loraDims = dimsByName(lora);
        assert.equal(loraDims.size, 14 * nLayer);
        assert.deepEqual(loraDims.get("blk.1.attn_output.weight.lora_a"), [64, 4]);
        assert.deepEqual(loraDims.get("blk.1.attn_k.weight.lora_b"), [4, 32]);
        assert.deepEqual(loraDims.get("blk.1.ffn_down.weight.lora_a"), [nFf, 4]);
        const loraA = await tensorBytes(tiny.paths.lora, lora, "blk.1.ffn_up.weight.lora_a", 4 * nEmbd * 4);
        assert.deepEqual(new Float32Array(loraA.buffer.slice(loraA.byteOffset, loraA.byteOffset + loraA.length)), tiny.model.lora.layers[1].wUp.a);

        const decider = await readGgufFileInfo(tiny.paths.decider, { logWarnings: false });
        assert.equal(metadataAt(decider, "general.architecture"), "tah-decider");
        assert.deepEqual(metadataAt(decider, "tah.decider.taps"), [1, 2, 3, 4]);
        assert.equal(metadataAt(decider, "tah.decider.logit_top_k"), 100);
        assert.equal(metadataAt(decider, "tah.soft_embedding_top_k"), 100);
        assert.equal(metadataAt(decider, "tah.decider.hidden_size"), nEmbd);
        assert.equal(metadataAt(decider, "tah.decider.width"), 32);
        assert.equal(metadataAt(decider, "tah.decider.block_count"), 2);
        assert.equal(metadataAt(decider, "tah.decider.layer_norm_epsilon"), Math.fround(1e-5));
        assert.equal(metadataAt(decider, "tah.decider.gelu"), "erf");
        assert.equal(metadataAt(decider, "tah.threshold"), 0.5);
        assert.equal(metadataAt(decider, "tah.max_iter"), 2);
        const deciderDims = dimsByName(decider);
        assert.deepEqual(Object.fromEntries(deciderDims), {
            "logits_projection.weight": [100, nEmbd], "logits_projection.bias": [nEmbd],
            "combined_projection.weight": [4 * nEmbd + nEmbd, 32], "combined_projection.bias": [32],
            "backbone.input_projection.weight": [32, 32], "backbone.input_projection.bias": [32],
            "backbone.blocks.0.layer_norm.weight": [32], "backbone.blocks.0.layer_norm.bias": [32],
            "backbone.blocks.0.mlp.0.weight": [32, 128], "backbone.blocks.0.mlp.0.bias": [128],
            "backbone.blocks.0.mlp.3.weight": [128, 32], "backbone.blocks.0.mlp.3.bias": [32],
            "backbone.blocks.1.layer_norm.weight": [32], "backbone.blocks.1.layer_norm.bias": [32],
            "backbone.blocks.1.mlp.0.weight": [32, 128], "backbone.blocks.1.mlp.0.bias": [128],
            "backbone.blocks.1.mlp.3.weight": [128, 32], "backbone.blocks.1.mlp.3.bias": [32],
            "backbone.output_layer.0.weight": [32], "backbone.output_layer.0.bias": [32],
            "backbone.output_layer.1.weight": [32, 1], "backbone.output_layer.1.bias": [1],
        });
        const outBias = await tensorBytes(tiny.paths.decider, decider, "backbone.output_layer.1.bias", 4);
        assert.equal(outBias.readFloatLE(0), tiny.model.decider.output.bias[0]);
    });

    it("writes an untied F16 plain backbone whose values match the returned weights", async () => {
        const file = path.join(dir, "plain.gguf");
        const tiny = createTinyTah({ tiedEmbeddings: false, matrixType: "f16", nLayer: 2, taps: [0, 1] });
        await writeTinyBackbone(file, tiny);
        const info = await readGgufFileInfo(file, { logWarnings: false });
        const output = info.tensorInfo!.find((t) => t.name === "output.weight")!;
        assert.equal(output.ggmlType, GgmlType.F16);
        assert.equal(info.tensorInfo!.find((t) => t.name === "output_norm.weight")!.ggmlType, GgmlType.F32);
        const { nVocab, nEmbd } = tiny.model.config;
        const bytes = await tensorBytes(file, info, "output.weight", nVocab * nEmbd * 2);
        assert.deepEqual(decodeFloat16(bytes), tiny.model.output);
    });

    it("rejects taps outside the layers", () => {
        assert.throws(() => createTinyTah({ taps: [1, tinyTahDefaults.nLayer] }), /taps/);
    });
});
