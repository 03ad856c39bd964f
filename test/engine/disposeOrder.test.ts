/**
 * No order of dispose calls frees what a running evaluation uses: the native model parts (decider, LoRA) are shared
 * by the model and each context's evaluator, and a TaH model disposes its contexts before itself.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { TahContext } from "../../src/engine/evaluator/TahContext.js";
import { greedy } from "../../src/engine/evaluator/sampling.js";
import { TahModel } from "../../src/engine/model/TahModel.js";
import { loadPatchedLlama, type PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import { generateTinyTah } from "../support/tinyTah.js";

let patched: PatchedLlama;
let root: string;
let modelDir: string;
/** A prompt long enough that its prefill is still running when the test disposes something. */
let prompt: number[];
let expectedNext: number;

async function open(): Promise<{ model: TahModel; context: TahContext }> {
    const model = await TahModel.load(patched, modelDir);
    const context = await TahContext.create(model, { sequences: 1, contextSize: 1024, threads: 1, batchSize: 128 });
    return { model, context };
}

before(async () => {
    patched = await loadPatchedLlama({ gpu: "cpu" });
    root = await mkdtemp(path.join(os.tmpdir(), "tah-dispose-"));
    modelDir = path.join(root, "tah");
    await generateTinyTah(modelDir, { seed: 11, threshold: 0 });
    const { model, context } = await open();
    prompt = model.tokenize("def add(a, b):\n    return a + b\n".repeat(12)).slice(0, 512);
    expectedNext = (await context.sequence(0).prefill(prompt, { sample: greedy })).nextToken!;
    await model.dispose();
});

after(async () => {
    await patched.llama.dispose();
    await rm(root, { recursive: true, force: true });
});

test("the native model disposed first, during an evaluation: the context still computes the same answer", async () => {
    const { model, context } = await open();
    const running = context.sequence(0).prefill(prompt, { sample: greedy });
    // the wrong order on purpose, while the prefill runs: the addon model before its context
    model.native.dispose();
    assert.equal((await running).nextToken, expectedNext);
    // and after it: the evaluator keeps the decider and the LoRA it shares
    await context.sequence(0).truncate(0);
    assert.equal((await context.sequence(0).prefill(prompt, { sample: greedy })).nextToken, expectedNext);
    await context.dispose();
    await model.dispose();
});

test("a model disposed during an evaluation disposes its context first; the evaluation ends, nothing crashes", async () => {
    const { model, context } = await open();
    const running = context.sequence(0).prefill(prompt, { sample: greedy }).then(
        (result) => ({ done: result.nextToken }),
        (error: unknown) => ({ failed: engineErrorCodeOf(error) })
    );
    await model.dispose();
    const outcome = await running;
    // either the prefill finished before the abort reached it, or it was stopped: never a wrong answer
    if ("done" in outcome)
        assert.equal(outcome.done, expectedNext);
    else
        assert.ok(["aborted", "stopped"].includes(outcome.failed), outcome.failed);
    await assert.rejects(context.sequence(0).prefill(prompt, { sample: greedy }), /disposed/);
    await context.dispose();
});

test("a context cannot be made on a disposed model", async () => {
    const { model, context } = await open();
    await context.dispose();
    await model.dispose();
    await assert.rejects(TahContext.create(model, { sequences: 1, contextSize: 64, threads: 1 }), (error: unknown) => engineErrorCodeOf(error) === "noModel");
});

