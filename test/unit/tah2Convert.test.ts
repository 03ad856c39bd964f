/**
 * `tah convert` on TaH2 checkpoints in upstream's layout (test/support/tah2Checkpoint.ts): the generation is told from
 * the files, tah2.gguf holds exactly the checkpoint's updater and decider values with the settings the engine needs,
 * the manifest records the generation and max_iter, and whatever the engine cannot compute exactly is refused with
 * the file and the reason, leaving nothing behind.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { convertCheckpoint, type ConvertResult } from "../../src/convert/convertCheckpoint.js";
import { checkpointGeneration } from "../../src/convert/tahConfig.js";
import { EngineError } from "../../src/engine/protocol/EngineError.js";
import { resolveModelFiles } from "../../src/engine/model/modelFiles.js";
import { readGgufContents } from "../support/ggufTensors.js";
import { PyDict } from "../support/pickleWriter.js";
import { writeTah2Checkpoint, type Tah2CheckpointOptions } from "../support/tah2Checkpoint.js";
import { TorchSave } from "../support/torchSaveWriter.js";

let root = "";
let count = 0;

before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah2-convert-"));
});

after(() => rm(root, { recursive: true, force: true }));

async function checkpoint(options: Tah2CheckpointOptions = {}): Promise<string> {
    return (await writeTah2Checkpoint(path.join(root, `ckpt-${count++}`), options)).dir;
}

function convert(dir: string): Promise<ConvertResult> {
    return convertCheckpoint({ checkpointDir: dir, outDir: path.join(root, `out-${count++}`), type: "f32", sync: false });
}

async function editJson(file: string, edit: (json: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    await writeFile(file, JSON.stringify(edit(JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>)));
}

const editKwargs = (key: "iter_decider_kwargs" | "input_updater_kwargs", edit: (kwargs: Record<string, unknown>) => Record<string, unknown>) =>
    (json: Record<string, unknown>): Record<string, unknown> => ({ ...json, [key]: edit({ ...(json[key] as Record<string, unknown>) }) });

async function assertRefused(dir: string, file: string, pattern: RegExp): Promise<void> {
    const out = path.join(root, `out-${count++}`);
    await assert.rejects(convertCheckpoint({ checkpointDir: dir, outDir: out, type: "f32", sync: false }), (error: unknown) => {
        assert.ok(error instanceof EngineError && error.code === "modelFile", `a modelFile EngineError, not ${String(error)}`);
        assert.ok(error.message.includes(path.join(dir, file)), `the message names ${file}: ${error.message}`);
        assert.match(error.message, pattern);
        return true;
    });
    assert.equal(existsSync(out), false, "nothing written");
}

describe("TaH2 conversion", () => {
    it("tells plain, TaH v1 and TaH2 checkpoints apart from their files", async () => {
        const dir = await checkpoint();
        assert.equal(await checkpointGeneration(dir), 2);
        await rm(path.join(dir, "input_updater.bin"));
        assert.equal(await checkpointGeneration(dir), 2, "a named TaH2 updater without its file is still TaH2 (and refused for the missing file)");
        await editJson(path.join(dir, "tah_config.json"), (json) => ({ ...json, input_updater: "TrivialUpdater" }));
        assert.equal(await checkpointGeneration(dir), 1);
        await rm(path.join(dir, "tah_config.json"));
        assert.equal(await checkpointGeneration(dir), "plain");
        await assertRefused(dir, "tah_config.json", /plain checkpoint/);
    });

    it("writes the updater and decider values exactly, the settings, and a manifest with generation and max_iter", async () => {
        for (const maxIter of [2, 4]) {
            const written = await writeTah2Checkpoint(path.join(root, `ckpt-${count++}`), { maxIter, seed: 3, tiedEmbeddings: false, shards: 2 });
            const result = await convert(written.dir);
            assert.equal(result.summary.generation, 2);
            assert.deepEqual(result.files.map((file) => file.name), ["tah-model.json", "backbone.gguf", "tah2.gguf"]);
            const manifest = JSON.parse(await readFile(path.join(result.outDir, "tah-model.json"), "utf8")) as Record<string, unknown>;
            assert.equal(manifest.generation, 2);
            assert.equal(manifest.maxIter, maxIter);
            assert.equal(manifest.tah2, "tah2.gguf");
            assert.equal(manifest.lora, undefined);
            const files = resolveModelFiles(result.outDir);
            assert.ok(files.kind === "tah" && files.generation === 2 && files.tah2.endsWith("tah2.gguf"));

            const nets = await readGgufContents(path.join(result.outDir, "tah2.gguf"));
            assert.equal(nets.value("general.architecture"), "tah2-nets");
            assert.equal(nets.value("tah.max_iter"), maxIter);
            assert.equal(nets.value("tah.threshold"), 0.5);
            assert.equal(nets.value("tah2.decider.top_k"), written.options.nEmbd);
            assert.equal(nets.value("tah2.updater.width"), written.options.updaterWidth);
            assert.equal(nets.value("tah2.decider.width"), written.options.deciderWidth);
            const h = written.options.nEmbd;
            const expect = (name: string, values: Float32Array, dims: number[]): void => {
                const tensor = nets.tensors.get(name);
                assert.ok(tensor !== undefined, `${name} is there`);
                assert.deepEqual(tensor.dims, dims, `dims of ${name}`);
                assert.ok(tensor.bytes.equals(Buffer.from(values.buffer, values.byteOffset, values.byteLength)), `values of ${name}`);
            };
            const { updater, decider } = written.model;
            expect("updater.projection.weight", updater.projection, [2 * h, h]);
            expect("updater.mlp.down_proj.weight", updater.mlp.down, [updater.mlp.width, h]);
            expect("updater.norm_out.weight", updater.normOut, [h]);
            expect("decider.input_proj.weight", decider.inputProj, [3 * h, h]);
            expect("decider.score.weight", decider.score, [h, 1]);
            expect("decider.norm_l.weight", decider.normL, [h]);
            assert.equal(nets.tensors.has("decider.threshold"), false, "the threshold is metadata, not a weight");
        }
    });

    it("takes the threshold buffer when tah_config.json sets none", async () => {
        const dir = await checkpoint({ threshold: 0.3 });
        await editJson(path.join(dir, "tah_config.json"), editKwargs("iter_decider_kwargs", (kwargs) => {
            delete kwargs.threshold;
            return kwargs;
        }));
        const result = await convert(dir);
        assert.ok(result.summary.generation === 2);
        assert.equal(result.summary.tah2.threshold, 0.30078125);
        assert.match(result.summary.tah2.thresholdSource, /buffer/);
    });

    const refusals: Array<[string, string, (dir: string) => Promise<void>, RegExp]> = [
        ["an unknown updater class", "tah_config.json", (dir) => editJson(path.join(dir, "tah_config.json"), (json) => ({ ...json, input_updater: "LinearUpdater" })), /input_updater "LinearUpdater"/],
        ["an unknown decider class", "tah_config.json", (dir) => editJson(path.join(dir, "tah_config.json"), (json) => ({ ...json, iter_decider: "AlwaysIterDecider" })), /iter_decider "AlwaysIterDecider"/],
        ["a decider top-k other than hidden_size", "tah_config.json", (dir) => editJson(path.join(dir, "tah_config.json"), editKwargs("iter_decider_kwargs", (kwargs) => ({ ...kwargs, topk: 16 }))), /topk 16 is not the hidden size 32/],
        ["causal attention (the fixed-loop baseline)", "tah_config.json", (dir) => editJson(path.join(dir, "tah_config.json"), (json) => ({ ...json, iter_attention_mode: "causal" })), /iter_attention_mode "causal"/],
        ["even mixing", "tah_config.json", (dir) => editJson(path.join(dir, "tah_config.json"), (json) => ({ ...json, weighted_hidden_method: "even_mix" })), /weighted_hidden_method "even_mix"/],
        ["a single depth (Standard)", "tah_config.json", (dir) => editJson(path.join(dir, "tah_config.json"), (json) => ({ ...json, max_iter: 1 })), /plain Qwen3/],
        ["an updater without its output norm", "tah_config.json", (dir) => editJson(path.join(dir, "tah_config.json"), editKwargs("input_updater_kwargs", (kwargs) => ({ ...kwargs, enable_norm_out: false }))), /norm_out/],
        ["rope_scaling", "config.json", (dir) => editJson(path.join(dir, "config.json"), (json) => ({ ...json, rope_scaling: { rope_type: "yarn", factor: 4 } })), /rope_scaling/],
        ["a missing updater file", "input_updater.bin", (dir) => rm(path.join(dir, "input_updater.bin")), /missing|no such|does not exist|not a regular file/i],
    ];
    for (const [what, file, edit, pattern] of refusals) {
        it(`refuses ${what}`, async () => {
            const dir = await checkpoint();
            await edit(dir);
            await assertRefused(dir, file, pattern);
        });
    }

    it("refuses a pickled class other than the one tah_config.json names", async () => {
        const dir = await checkpoint();
        const save = new TorchSave();
        await save.write(path.join(dir, "iter_decider.bin"), new PyDict([["class", "TrivialIterDecider"], ["state_dict", new PyDict([])], ["init_args", new PyDict([])]]), "iter_decider");
        await assertRefused(dir, "iter_decider.bin", /the class is "TrivialIterDecider"; only Qwen3MLPIterDecider/);
    });
});
