/**
 * Bad models and bad requests get a clear error that names the file and the problem, and the process goes on:
 * after every failure, a good model still loads and runs.
 */
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { TahContext } from "../../src/engine/evaluator/TahContext.js";
import { greedy } from "../../src/engine/evaluator/sampling.js";
import { EngineError } from "../../src/engine/protocol/EngineError.js";
import { TahModel } from "../../src/engine/model/TahModel.js";
import { loadPatchedLlama, type PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { writeGguf } from "../../src/gguf/ggufWriter.js";
import { createTinyTah, deciderGgufContent, generateTinyTah, loraGgufContent, type TinyTah } from "../support/tinyTah.js";

let patched: PatchedLlama;
let root: string;
let good: string;

before(async () => {
    patched = await loadPatchedLlama({ gpu: "cpu" });
    root = await mkdtemp(path.join(os.tmpdir(), "tah-bad-"));
    good = path.join(root, "good");
    await generateTinyTah(good, { seed: 3 });
});

after(async () => {
    await patched.llama.dispose();
    await rm(root, { recursive: true, force: true });
});

/** A copy of the good model folder with one file replaced by `change`. */
async function variant(name: string, change: (folder: string) => Promise<void>): Promise<string> {
    const folder = path.join(root, name);
    await generateTinyTah(folder, { seed: 3 });
    await change(folder);
    return folder;
}

async function assertLoadFails(modelPath: string, message: RegExp): Promise<void> {
    await assert.rejects(TahModel.load(patched, modelPath), (error: unknown) => {
        assert.ok(error instanceof EngineError && error.code === "modelFile", `a modelFile EngineError, not ${String(error)}`);
        assert.match(error.message, message);
        return true;
    });
    await assertGoodModelRuns();
}

async function assertGoodModelRuns(): Promise<void> {
    const model = await TahModel.load(patched, good);
    try {
        const context = await TahContext.create(model, { sequences: 1, contextSize: 64, threads: 1 });
        const result = await context.sequence(0).prefill(model.tokenize("x = 1"), { sample: greedy });
        assert.equal(typeof result.nextToken, "number");
        await context.dispose();
    } finally {
        await model.dispose();
    }
}

test("a missing model path", async () => {
    await assertLoadFails(path.join(root, "nowhere"), /no model at .*nowhere/);
});

test("a folder without a manifest", async () => {
    const folder = await variant("no-manifest", (f) => rm(path.join(f, "tah-model.json")));
    await assertLoadFails(folder, /without tah-model\.json/);
});

test("a manifest that is not JSON, or not a TaH manifest", async () => {
    await assertLoadFails(await variant("bad-json", (f) => writeFile(path.join(f, "tah-model.json"), "{ nope")), /not valid JSON/);
    await assertLoadFails(await variant("bad-manifest", (f) => writeFile(path.join(f, "tah-model.json"), JSON.stringify({ format: "x" }))), /not a TaH model manifest/);
});

test("a manifest whose decider file is missing", async () => {
    await assertLoadFails(await variant("no-decider", (f) => rm(path.join(f, "decider.gguf"))), /decider file .*decider\.gguf does not exist/);
});

test("a corrupt backbone: GGUF magic, then garbage", async () => {
    const folder = await variant("garbage", async (f) => {
        const bytes = Buffer.alloc(4096, 0xab);
        bytes.write("GGUF", 0, "latin1");
        await writeFile(path.join(f, "backbone.gguf"), bytes);
    });
    await assertLoadFails(folder, /cannot load .*backbone\.gguf/);
});

test("a truncated backbone", async () => {
    const folder = await variant("truncated", async (f) => {
        const file = path.join(f, "backbone.gguf");
        await truncate(file, Math.floor((await readFile(file)).length / 2));
    });
    await assertLoadFails(folder, /cannot load .*backbone\.gguf/);
});

test("a plain .gguf that is not GGUF at all", async () => {
    const file = path.join(root, "text.gguf");
    await writeFile(file, "this is a text file pretending to be a model, long enough to pass the size check");
    await assertLoadFails(file, /not a GGUF file/);
});

test("a decider that lacks a tensor", async () => {
    const tiny: TinyTah = createTinyTah({ seed: 3 });
    const folder = await variant("decider-missing-tensor", async (f) => {
        const content = deciderGgufContent(tiny);
        await writeGguf(path.join(f, "decider.gguf"), { ...content, tensors: content.tensors.filter((tensor) => tensor.name !== "combined_projection.weight"), sync: false });
    });
    await assertLoadFails(folder, /decider\.gguf: missing decider tensor combined_projection\.weight/);
});

test("a decider for a backbone of another width", async () => {
    const folder = await variant("decider-wrong-width", async (f) => {
        const other = createTinyTah({ seed: 3, nEmbd: 32, headDim: 8 });
        await writeGguf(path.join(f, "decider.gguf"), { ...deciderGgufContent(other), sync: false });
    });
    await assertLoadFails(folder, /decider reads hidden states of width 32 but the backbone's width is 64/);
});

test("a decider that taps a layer the backbone does not have", async () => {
    const folder = await variant("decider-bad-tap", async (f) => {
        const other = createTinyTah({ seed: 3, nLayer: 8, taps: [1, 7] });
        await writeGguf(path.join(f, "decider.gguf"), { ...deciderGgufContent(other), sync: false });
    });
    await assertLoadFails(folder, /decider tap 7 is outside the backbone's layer inputs 0\.\.5/);
});

test("a LoRA made for another backbone", async () => {
    const folder = await variant("lora-mismatch", async (f) => {
        const other = createTinyTah({ seed: 3, nFf: 96 });
        await writeGguf(path.join(f, "lora.gguf"), { ...loraGgufContent(other), sync: false });
    });
    await assertLoadFails(folder, /lora\.gguf: not a LoRA adapter for this backbone/);
});

test("a decider file that is a backbone", async () => {
    const folder = await variant("decider-is-backbone", (f) => copyFile(path.join(f, "backbone.gguf"), path.join(f, "decider.gguf")));
    await assertLoadFails(folder, /not a TaH decider file/);
});
