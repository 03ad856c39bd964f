/**
 * The converter without the engine: the files it writes (tensor for tensor against test/support/tinyTah.ts's own
 * writer), the checkpoint variants it accepts, the threshold it settles on, and bad input — each refused with the
 * file and the problem named, with nothing executed and nothing left where the output would go.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { EngineError } from "../../src/engine/protocol/EngineError.js";
import { convertCheckpoint, type ConvertOptions, type ConvertResult } from "../../src/convert/convertCheckpoint.js";
import type { DeciderSummary } from "../../src/convert/iterDecider.js";
import { encodeBfloat16 } from "../../src/gguf/floatEncoding.js";
import { GgmlType } from "../../src/gguf/ggufTypes.js";
import type { GgufContent } from "../../src/gguf/ggufWriter.js";
import { readGgufContents, type GgufFileContents } from "../support/ggufTensors.js";
import { PyCall, PyDict, PyGlobal, PyStackGlobal, type PyValue } from "../support/pickleWriter.js";
import { writeSyntheticCheckpoint, type SyntheticCheckpointOptions } from "../support/syntheticCheckpoint.js";
import { backboneGgufContent, createTinyTah, deciderGgufContent, loraGgufContent, type TinyTah } from "../support/tinyTah.js";
import { tinyVocabulary } from "../support/tinyTokenizer.js";
import { TorchSave } from "../support/torchSaveWriter.js";

let root = "";
let counter = 0;
before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah-convert-"));
});
after(() => rm(root, { recursive: true, force: true }));

const tiny = createTinyTah({ seed: 3 });
const untied = createTinyTah({ seed: 5, tiedEmbeddings: false, taps: [0, 2, 4] });

async function checkpoint(model: TinyTah = tiny, options: SyntheticCheckpointOptions = {}): Promise<string> {
    return (await writeSyntheticCheckpoint(path.join(root, `ckpt-${++counter}`), model, options)).dir;
}

function convert(checkpointDir: string, out: string, options: Partial<ConvertOptions> = {}): Promise<ConvertResult> {
    return convertCheckpoint({ checkpointDir, outDir: out, type: "f32", sync: false, name: "tiny", ...options });
}

function outPath(): string {
    return path.join(root, `out-${++counter}`);
}

/** The tensors of a GgufContent as the bytes an F32 GGUF holds. */
function expectedBytes(content: GgufContent): Map<string, Buffer> {
    return new Map(content.tensors.map((tensor) => {
        const data = tensor.data as Float32Array;
        return [tensor.name, Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
    }));
}

function assertSameTensors(actual: GgufFileContents, content: GgufContent, what: string): void {
    const expected = expectedBytes(content);
    assert.deepEqual([...actual.tensors.keys()].sort(), [...expected.keys()].sort(), `${what}: tensor names`);
    for (const tensor of content.tensors) {
        const found = actual.tensors.get(tensor.name)!;
        assert.deepEqual(found.dims, tensor.dims, `${what}: dims of ${tensor.name}`);
        assert.equal(found.type, GgmlType.F32, `${what}: type of ${tensor.name}`);
        assert.ok(found.bytes.equals(expected.get(tensor.name)!), `${what}: bytes of ${tensor.name}`);
    }
}

/** Nothing at `out`, and no staging folder beside it. */
async function assertNothingLeft(out: string): Promise<void> {
    assert.equal(existsSync(out), false, `${out} must not exist`);
    const leftovers = (await readdir(path.dirname(out))).filter((name) => name.startsWith(`${path.basename(out)}.`));
    assert.deepEqual(leftovers, [], "no staging folder left behind");
}

async function assertConversionFails(dir: string, file: string, pattern: RegExp, options: Partial<ConvertOptions> = {}): Promise<void> {
    const out = outPath();
    await assert.rejects(convert(dir, out, options), (error: unknown) => {
        assert.ok(error instanceof EngineError && error.code === "modelFile", `a modelFile EngineError, not ${String(error)}`);
        assert.ok(error.message.includes(file), `the message names ${file}: ${error.message}`);
        assert.match(error.message, pattern);
        return true;
    });
    await assertNothingLeft(out);
}

async function writeHostileDecider(dir: string, stateDict: PyValue): Promise<void> {
    await new TorchSave().write(path.join(dir, "iter_decider.bin"), new PyDict([["class", "MLPIterDecider"], ["state_dict", stateDict], ["init_args", new PyDict([])]]));
}

/** The decider part of a v1 conversion's summary. */
function deciderOf(result: ConvertResult): DeciderSummary {
    if (result.summary.generation !== 1)
        throw new Error(`a v1 checkpoint converted as generation ${result.summary.generation}`);
    return result.summary.decider;
}

async function editJson(file: string, edit: (json: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    await writeFile(file, JSON.stringify(edit(JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>)));
}

describe("convertCheckpoint: output", () => {
    it("an f32 conversion holds exactly the tiny model's tensors and TaH settings, as docs/model-format.md says", async () => {
        for (const model of [tiny, untied]) {
            const out = outPath();
            const result = await convert(await checkpoint(model, { deciderDtype: "float32" }), out);
            assert.deepEqual(result.files.map((file) => file.name), ["tah-model.json", "backbone.gguf", "lora.gguf", "decider.gguf"]);
            assert.ok(result.files.every((file) => file.bytes > 0));
            const manifest = JSON.parse(await readFile(path.join(out, "tah-model.json"), "utf8")) as Record<string, unknown>;
            assert.deepEqual({ ...manifest, source: undefined }, {
                format: "tah-copilot-model", version: 1, generation: 1, maxIter: 2, name: "tiny", backbone: "backbone.gguf", lora: "lora.gguf", decider: "decider.gguf", source: undefined,
            });
            assert.equal((manifest.source as { type: string }).type, "f32");

            const backbone = await readGgufContents(path.join(out, "backbone.gguf"));
            assertSameTensors(backbone, backboneGgufContent(model), "backbone");
            const reference = backboneGgufContent(model).metadata;
            for (const [key, value] of Object.entries(reference)) {
                if (key === "general.name" || key === "tokenizer.ggml.token_type")
                    continue;
                const expected = value.type === "float32" ? Math.fround(value.value) : value.value;
                assert.deepEqual(backbone.value(key), expected, key);
            }
            const types = backbone.value("tokenizer.ggml.token_type") as number[];
            // tinyTah marks every special as control; Qwen3's tokenizer (and llama.cpp's converter) keep <think> user-defined.
            assert.deepEqual(types.map((type, id) => ([tinyVocabulary.special["<think>"], tinyVocabulary.special["</think>"]].includes(id) ? 3 : type)), tinyVocabulary.tokenTypes);
            assert.equal(backbone.value("general.file_type"), 0);

            const lora = await readGgufContents(path.join(out, "lora.gguf"));
            assertSameTensors(lora, loraGgufContent(model), "lora");
            for (const [key, value] of Object.entries(loraGgufContent(model).metadata))
                assert.deepEqual(lora.value(key), value.value, key);

            const decider = await readGgufContents(path.join(out, "decider.gguf"));
            assertSameTensors(decider, deciderGgufContent(model), "decider");
            for (const [key, value] of Object.entries(deciderGgufContent(model).metadata))
                assert.deepEqual(decider.value(key), value.type === "float32" ? Math.fround(value.value) : value.value, key);
        }
    });

    it("checkpoint variants convert to the same files: shards, merge pairs, adapter names, template file, torch archive folder", async () => {
        const base = outPath();
        await convert(await checkpoint(tiny, { backboneDtype: "BF16", loraDtype: "BF16", deciderDtype: "bfloat16" }), base);
        const variant = outPath();
        await convert(await checkpoint(tiny, {
            backboneDtype: "BF16", loraDtype: "BF16", deciderDtype: "bfloat16",
            shards: 3, mergesAsPairs: true, adapterSegment: true, templateFile: true, torchPrefix: "iter_decider",
        }), variant);
        for (const file of ["backbone.gguf", "lora.gguf", "decider.gguf"])
            assert.ok((await readFile(path.join(base, file))).equals(await readFile(path.join(variant, file))), `${file} is byte-identical`);
    });

    it("writes float types as asked: matrices in the type, norms F32, the LoRA in 16 bits unless f32", async () => {
        const dir = await checkpoint(tiny, { backboneDtype: "BF16", loraDtype: "BF16" });
        for (const [type, matrix, lora, fileType] of [["bf16", GgmlType.BF16, GgmlType.BF16, 32], ["f16", GgmlType.F16, GgmlType.F16, 1]] as const) {
            const out = outPath();
            await convert(dir, out, { type });
            const backbone = await readGgufContents(path.join(out, "backbone.gguf"));
            assert.equal(backbone.value("general.file_type"), fileType);
            assert.equal(backbone.tensors.get("token_embd.weight")!.type, matrix);
            assert.equal(backbone.tensors.get("blk.2.ffn_down.weight")!.type, matrix);
            assert.equal(backbone.tensors.get("blk.2.attn_q_norm.weight")!.type, GgmlType.F32);
            assert.equal(backbone.tensors.get("output_norm.weight")!.type, GgmlType.F32);
            const loraFile = await readGgufContents(path.join(out, "lora.gguf"));
            assert.equal(loraFile.tensors.get("blk.0.attn_q.weight.lora_a")!.type, lora);
            if (type === "bf16") {
                // BF16 stays bit for bit: the checkpoint's bytes, unchanged.
                const embd = encodeBfloat16(tiny.model.tokenEmbd);
                assert.ok(backbone.tensors.get("token_embd.weight")!.bytes.equals(Buffer.from(embd.buffer)));
            }
        }
    });

    it("pads the vocabulary to config.json's vocab_size", async () => {
        const out = outPath();
        const result = await convert(await checkpoint(untied, { vocabPadding: 13 }), out);
        const n = tinyVocabulary.tokens.length;
        assert.equal(result.summary.vocabSize, n + 13);
        assert.equal(result.summary.definedTokens, n);
        const backbone = await readGgufContents(path.join(out, "backbone.gguf"));
        assert.equal((backbone.value("tokenizer.ggml.tokens") as string[]).length, n + 13);
        assert.deepEqual(backbone.tensors.get("output.weight")!.dims, [untied.options.nEmbd, n + 13]);
    });

    it("takes the threshold from tah_config.json as the reference does: rounded to the decider's dtype, never the learned one", async () => {
        const cases: Array<[SyntheticCheckpointOptions, number]> = [
            [{ threshold: 0.9, thresholdDtype: "bfloat16" }, 0.8984375],
            [{ threshold: 0.8, thresholdDtype: "bfloat16" }, 0.80078125],
            [{ threshold: 0.9, thresholdDtype: "float32" }, Math.fround(0.9)],
        ];
        for (const [options, expected] of cases) {
            const result = await convert(await checkpoint(tiny, { ...options, learnedThreshold: 0.3 }), outPath());
            assert.equal(deciderOf(result).threshold, expected);
            assert.match(deciderOf(result).thresholdSource, /tah_config\.json/);
        }
        // Without a threshold in iter_decider_kwargs, the reference's loader keeps the learned parameter.
        const dir = await checkpoint(tiny, { learnedThreshold: 0.3, deciderDtype: "bfloat16" });
        await editJson(path.join(dir, "tah_config.json"), (json) => {
            const kwargs = { ...(json.iter_decider_kwargs as Record<string, unknown>) };
            delete kwargs.threshold;
            return { ...json, iter_decider_kwargs: kwargs };
        });
        const learned = await convert(dir, outPath());
        assert.equal(deciderOf(learned).threshold, 0.30078125);
        assert.match(deciderOf(learned).thresholdSource, /learned threshold/);
    });
});

describe("convertCheckpoint: bad input", () => {
    it("names a missing file", async () => {
        const files = ["config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors", "lora/adapter_config.json", "lora/adapter_model.safetensors", "iter_decider.bin", "tah_config.json"];
        for (const file of files) {
            const dir = await checkpoint();
            await rm(path.join(dir, file));
            await assertConversionFails(dir, path.join(dir, file), /is missing/);
        }
    });

    it("names a tensor of the wrong shape, an unknown dtype and a truncated file", async () => {
        const swapped = await checkpoint(tiny, {
            editBackbone: (tensors) => tensors.map((t) => (t.name === "model.layers.1.self_attn.k_proj.weight" ? { ...t, shape: [t.shape[1], t.shape[0]] } : t)),
        });
        await assertConversionFails(swapped, path.join(swapped, "model.safetensors"), /tensor "model\.layers\.1\.self_attn\.k_proj\.weight" has shape \[64, 32\], config\.json implies \[32, 64\]/);

        const float64 = await checkpoint(tiny, {
            editBackbone: (tensors) => tensors.map((t) => (t.name === "model.norm.weight" ? { ...t, dtype: "F64", data: new Uint8Array(8 * t.shape[0]) } : t)),
        });
        await assertConversionFails(float64, path.join(float64, "model.safetensors"), /tensor "model\.norm\.weight" has dtype F64; the converter reads F32, F16 and BF16 tensors only/);

        const unknown = await checkpoint(tiny, {
            editBackbone: (tensors) => tensors.map((t) => (t.name === "model.norm.weight" ? { ...t, dtype: "F12", data: new Uint8Array(4) } : t)),
        });
        await assertConversionFails(unknown, path.join(unknown, "model.safetensors"), /unknown dtype "F12"/);

        const truncated = await checkpoint(tiny, { shards: 2 });
        const shard = path.join(truncated, "model-00002-of-00002.safetensors");
        await truncate(shard, (await readFile(shard)).length - 100);
        await assertConversionFails(truncated, shard, /is truncated: tensor "[^"]+" ends at byte/);

        const missing = await checkpoint(tiny, { editBackbone: (tensors) => tensors.filter((t) => t.name !== "model.layers.5.mlp.up_proj.weight") });
        await assertConversionFails(missing, missing, /tensor "model\.layers\.5\.mlp\.up_proj\.weight" is missing/);

        const extra = await checkpoint(tiny, { editBackbone: (tensors) => [...tensors, { name: "model.layers.0.self_attn.q_proj.lora_A.weight", dtype: "F32", shape: [2], data: new Float32Array(2) }] });
        await assertConversionFails(extra, path.join(extra, "model.safetensors"), /unexpected tensor "model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight"/);
    });

    it("refuses pickles that name os.system or builtins.eval, or call anything off the list — and runs none of it", async () => {
        const marker = path.join(root, "pwned");
        const systemCall = await checkpoint();
        await writeHostileDecider(systemCall, new PyCall(new PyGlobal("os", "system"), [`touch ${marker}`]));
        await assertConversionFails(systemCall, path.join(systemCall, "iter_decider.bin"), /global os\.system, which is not allowed/);

        const evalCall = await checkpoint();
        await writeHostileDecider(evalCall, new PyCall(new PyStackGlobal("builtins", "eval"), [`__import__("os").system("touch ${marker}")`]));
        await assertConversionFails(evalCall, path.join(evalCall, "iter_decider.bin"), /global builtins\.eval, which is not allowed/);

        const storageCall = await checkpoint();
        await writeHostileDecider(storageCall, new PyCall(new PyGlobal("torch", "FloatStorage"), [`touch ${marker}`]));
        await assertConversionFails(storageCall, path.join(storageCall, "iter_decider.bin"), /calls torch\.FloatStorage \(REDUCE\), which is not a callable the converter allows/);

        assert.equal(existsSync(marker), false, "nothing in the pickles ran");
    });

    it("refuses LoRA adapters llama.cpp cannot apply as alpha/r · B·A", async () => {
        const dora = await checkpoint();
        await editJson(path.join(dora, "lora", "adapter_config.json"), (json) => ({ ...json, use_dora: true }));
        await assertConversionFails(dora, path.join(dora, "lora", "adapter_config.json"), /use_dora is true/);
        const rslora = await checkpoint();
        await editJson(path.join(rslora, "lora", "adapter_config.json"), (json) => ({ ...json, use_rslora: true }));
        await assertConversionFails(rslora, path.join(rslora, "lora", "adapter_config.json"), /use_rslora is true/);
        const target = await checkpoint();
        await editJson(path.join(target, "lora", "adapter_config.json"), (json) => ({ ...json, target_modules: ["q_proj", "lm_head"] }));
        await assertConversionFails(target, path.join(target, "lora", "adapter_config.json"), /target_modules includes lm_head/);
        const rank = await checkpoint();
        await editJson(path.join(rank, "lora", "adapter_config.json"), (json) => ({ ...json, r: 8 }));
        await assertConversionFails(rank, path.join(rank, "lora", "adapter_model.safetensors"), /layers\.0\.self_attn\.q_proj\.lora_A has shape \[4, 64\], expected \[8, 64\]/);
    });

    it("refuses configs that do not describe this model", async () => {
        const llama = await checkpoint();
        await editJson(path.join(llama, "config.json"), (json) => ({ ...json, model_type: "llama" }));
        await assertConversionFails(llama, path.join(llama, "config.json"), /model_type is "llama"/);
        const dims = await checkpoint();
        await editJson(path.join(dims, "tah_config.json"), (json) => ({ ...json, iter_decider_kwargs: { ...(json.iter_decider_kwargs as object), hidden_dims: [16, 16] } }));
        await assertConversionFails(dims, path.join(dims, "iter_decider.bin"), /state_dict entry "combined_projection\.weight" has shape \[32, 320\], the settings in tah_config\.json imply \[16, 320\]/);
        const taps = await checkpoint();
        await editJson(path.join(taps, "tah_config.json"), (json) => ({ ...json, iter_decider_kwargs: { ...(json.iter_decider_kwargs as object), hidden_states_layer_nums: [1, 6] } }));
        await assertConversionFails(taps, path.join(taps, "tah_config.json"), /hidden_states_layer_nums \[1, 6\] must name layer inputs 0\.\.5/);
        const decider = await checkpoint();
        await editJson(path.join(decider, "tah_config.json"), (json) => ({ ...json, iter_decider: "IterLabelDecider" }));
        await assertConversionFails(decider, path.join(decider, "iter_decider.bin"), /only MLPIterDecider is supported/);
    });

    it("refuses sizes beyond sane bounds before anything is sized by them", async () => {
        for (const [key, value] of [["vocab_size", 2_000_000_000], ["num_hidden_layers", 1_000_000_000], ["hidden_size", 1e9]] as const) {
            const dir = await checkpoint();
            await editJson(path.join(dir, "config.json"), (json) => ({ ...json, [key]: value }));
            await assertConversionFails(dir, path.join(dir, "config.json"), new RegExp(`${key}: Too big`));
        }
        const blocks = await checkpoint();
        await editJson(path.join(blocks, "tah_config.json"), (json) => ({ ...json, iter_decider_kwargs: { ...(json.iter_decider_kwargs as object), hidden_dims: new Array<number>(100).fill(32) } }));
        await assertConversionFails(blocks, path.join(blocks, "tah_config.json"), /hidden_dims: Too big/);
        const threshold = await checkpoint();
        await editJson(path.join(threshold, "tah_config.json"), (json) => ({ ...json, iter_decider_kwargs: { ...(json.iter_decider_kwargs as object), threshold: 7 } }));
        await assertConversionFails(threshold, path.join(threshold, "tah_config.json"), /threshold: Too big/);
    });
});

describe("convertCheckpoint: the output folder", () => {
    it("refuses a non-empty output folder unless forced, and replaces it when forced", async () => {
        const dir = await checkpoint();
        const out = outPath();
        await mkdir(out);
        await writeFile(path.join(out, "keep.txt"), "mine");
        await assert.rejects(convert(dir, out), /exists and is not empty; choose another --out, or pass --force/);
        assert.equal(await readFile(path.join(out, "keep.txt"), "utf8"), "mine");
        await convert(dir, out, { force: true });
        assert.deepEqual((await readdir(out)).sort(), ["backbone.gguf", "decider.gguf", "lora.gguf", "tah-model.json"]);
        assert.deepEqual((await readdir(root)).filter((name) => name.startsWith(`${path.basename(out)}.`)), []);

        const empty = outPath();
        await mkdir(empty);
        await convert(dir, empty);
        assert.equal((await readdir(empty)).length, 4);
        await assert.rejects(convert(dir, path.dirname(dir), { force: true }), /would contain the checkpoint/);
    });

    it("leaves nothing behind when aborted mid-write, and removes staging folders of dead runs", async () => {
        const dir = await checkpoint();
        const out = outPath();
        const stale = `${out}.partial-999999999-deadbeef`;
        await mkdir(stale);
        const controller = new AbortController();
        await assert.rejects(convert(dir, out, {
            signal: controller.signal,
            onProgress: (progress) => {
                if (progress.stage === "backbone" && (progress.fraction ?? 0) > 0.2)
                    controller.abort();
            },
        }), (error: unknown) => error instanceof EngineError && error.code === "aborted" && /interrupted; nothing was written/.test(error.message));
        await assertNothingLeft(out);
    });

    it("needs llama.cpp's quantizer for quantized types", async () => {
        await assert.rejects(convert(await checkpoint(), outPath(), { type: "q4_k_m" }), /needs llama\.cpp's quantizer/);
    });
});
