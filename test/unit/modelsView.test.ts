/**
 * The Models view's data: what the models folder holds (TaH folders, GGUFs, kept checkpoints, unfinished downloads)
 * and the models the settings point at elsewhere, each row with its kind, type, size, roles and loaded memory, and the
 * flags that decide its actions (Delete only inside the models folder, Convert Again only with a kept checkpoint).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { ModelSummary } from "../../src/engine/protocol/engineProtocol.js";
import { loadedMemoryBytes } from "../../src/models/loadedMemory.js";
import { fileTypeName, listInstalledModels, type InstalledModel } from "../../src/models/installedModels.js";
import { modelItem } from "../../src/ui/modelItems.js";
import { gguf } from "../../src/gguf/ggufTypes.js";
import { writeGguf } from "../../src/gguf/ggufWriter.js";
import { backboneGgufContent, createTinyTah, generateTinyTah, writeTinyBackbone } from "../support/tinyTah.js";

let root: string;
let modelsDir: string;
let outside: string;

before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah-models-view-"));
    modelsDir = path.join(root, "models");
    outside = path.join(root, "elsewhere.gguf");
    const tiny = createTinyTah({ seed: 5 });
    await generateTinyTah(path.join(modelsDir, "TaH-plus-1.7B-q8_0"), { seed: 5 });
    // the converter writes the checkpoint folder's name into the manifest; here it is a kept checkpoint
    const manifestFile = path.join(modelsDir, "TaH-plus-1.7B-q8_0", "tah-model.json");
    const manifest = JSON.parse(await readFile(manifestFile, "utf8")) as { source: Record<string, string> };
    manifest.source = { checkpoint: "nics-efc--TaH-plus-1.7B", type: "q8_0" };
    await writeFile(manifestFile, JSON.stringify(manifest));
    await mkdir(path.join(modelsDir, "checkpoints", "nics-efc--TaH-plus-1.7B"), { recursive: true });
    await writeFile(path.join(modelsDir, "checkpoints", "nics-efc--TaH-plus-1.7B", "tah_config.json"), "{}");
    await mkdir(path.join(modelsDir, "ggml-org--Coder-GGUF"), { recursive: true });
    const content = backboneGgufContent(tiny);
    // as llama.cpp's quantizer labels a q8_0 file (the bytes stay f32: only the label is read here)
    await writeGguf(path.join(modelsDir, "ggml-org--Coder-GGUF", "coder-q8_0.gguf"), { ...content, metadata: { ...content.metadata, "general.file_type": gguf.uint32(7) }, sync: false });
    await mkdir(path.join(modelsDir, "ggml-org--Big-GGUF.download"), { recursive: true });
    await writeFile(path.join(modelsDir, "ggml-org--Big-GGUF.download", "part.incomplete"), "1234");
    await writeTinyBackbone(outside, tiny);
});

after(async () => {
    await rm(root, { recursive: true, force: true });
});

function byName(models: readonly InstalledModel[], name: string): InstalledModel {
    const model = models.find((candidate) => candidate.name === name);
    assert.ok(model !== undefined, `${name} in ${models.map((candidate) => candidate.name).join(", ")}`);
    return model;
}

describe("the installed models", () => {
    test("the models folder's TaH folders, GGUFs, checkpoints and unfinished downloads, then the settings' models elsewhere", async () => {
        const models = await listInstalledModels(modelsDir, [outside, path.join(root, "missing.gguf")]);
        assert.deepEqual(models.map((model) => [model.name, model.kind, model.managed]), [
            ["TaH-plus-1.7B-q8_0", "tah", true],
            ["coder-q8_0", "gguf", true],
            ["nics-efc--TaH-plus-1.7B", "checkpoint", true],
            ["ggml-org--Big-GGUF", "partial", true],
            ["elsewhere", "gguf", false],
        ]);
        const tah = byName(models, "TaH-plus-1.7B-q8_0");
        assert.equal(tah.type, "q8_0");
        assert.equal(tah.checkpoint, path.join(modelsDir, "checkpoints", "nics-efc--TaH-plus-1.7B"));
        assert.ok(tah.sizeBytes > 0);
        assert.equal(byName(models, "ggml-org--Big-GGUF").sizeBytes, 4);
        assert.equal(byName(models, "coder-q8_0").type, "q8_0");
        assert.equal(byName(models, "elsewhere").type, undefined, "a GGUF without general.file_type has no type shown");
    });

    test("a setting that names a model in the models folder does not list it twice; no models folder yet is no models", async () => {
        const inside = path.join(modelsDir, "ggml-org--Coder-GGUF", "coder-q8_0.gguf");
        assert.equal((await listInstalledModels(modelsDir, [inside, path.join(modelsDir, "TaH-plus-1.7B-q8_0", "tah-model.json")])).length, 4);
        assert.deepEqual(await listInstalledModels(path.join(root, "none"), []), []);
    });

    test("llama.cpp's file types by name", () => {
        assert.deepEqual([fileTypeName(7), fileTypeName(15), fileTypeName(1), fileTypeName(99), fileTypeName("7")], ["q8_0", "q4_k_m", "f16", "file type 99", undefined]);
    });
});

const summary = (modelPath: string, weightsBytes: number, kvCacheBytes: number): ModelSummary => ({
    name: path.basename(modelPath), kind: "tah", path: modelPath, backend: "cpu", threads: 1, contextSize: 256, threshold: 0.5,
    hasFim: false, hasChatTemplate: true, vocabularySize: 100, memory: { weightsBytes, kvCacheBytes },
});

describe("the view's rows", () => {
    const tah: InstalledModel = { path: "/m/tah-q8_0", name: "tah-q8_0", kind: "tah", type: "q8_0", sizeBytes: 3 * 2 ** 30, managed: true, checkpoint: "/m/checkpoints/x" };
    const gguf: InstalledModel = { path: "/other/coder.gguf", name: "coder", kind: "gguf", type: "q8_0", sizeBytes: 2 ** 30, managed: false };

    test("kind, type, size on disk, the roles served and the memory loaded", () => {
        const loaded = [summary("/m/tah-q8_0", 2 ** 30, 2 ** 29), summary("/m/tah-q8_0", 2 ** 30, 2 ** 28)];
        const item = modelItem(tah, { chat: "/m/tah-q8_0", completion: "/m/tah-q8_0" }, loaded);
        assert.equal(item.description, "TaH · q8_0 · 3.0 GiB · chat, file analysis, ghost text · 1.8 GiB loaded");
        assert.deepEqual(item.roles, ["chat", "completion"]);
        const idle = modelItem(gguf, { chat: "/m/tah-q8_0", completion: "/m/tah-q8_0" }, loaded);
        assert.equal(idle.description, "plain GGUF · q8_0 · 1.0 GiB");
        assert.deepEqual(idle.roles, []);
    });

    test("the actions: Delete only inside the models folder, Convert Again only with a kept checkpoint, Use only for a loadable model", () => {
        const flags = (model: InstalledModel): string[] => modelItem(model, { chat: undefined, completion: undefined }, []).contextValue.split(" ");
        assert.ok(flags(tah).includes("managed") && flags(tah).includes("convertible") && flags(tah).includes("loadable"));
        assert.ok(!flags(gguf).includes("managed") && !flags(gguf).includes("convertible") && flags(gguf).includes("loadable"));
        const withoutCheckpoint: InstalledModel = { ...tah, checkpoint: undefined };
        assert.ok(!flags({ ...withoutCheckpoint }).includes("convertible"));
        const partial: InstalledModel = { path: "/m/x.download", name: "x", kind: "partial", type: undefined, sizeBytes: 1, managed: true };
        assert.ok(!flags(partial).includes("loadable") && flags(partial).includes("resumable"));
    });

    test("the loaded models' memory: one shared file's weights once, every role's KV cache", () => {
        assert.equal(loadedMemoryBytes([summary("/a", 100, 10), summary("/a", 100, 5)]), 115);
        assert.equal(loadedMemoryBytes([summary("/a", 100, 10), summary("/b", 50, 5)]), 165);
        assert.equal(loadedMemoryBytes([{ ...summary("/a", 1, 1), memory: undefined }]), undefined);
    });
});
