/**
 * One model per role: a TaH chat model and a plain GGUF completion model loaded side by side in one engine, each
 * answering its own role, and the memory each takes reported with its summary. The two models are told apart by what
 * only one of them can give: the plain model's difficulty is a proxy, the TaH model's is the decider's; and each
 * role's tokens must be the ones the same model gives when it is loaded alone.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { CompletionParams, EngineSettings, LoadedModels } from "../../src/engine/protocol/engineProtocol.js";
import { EngineService } from "../../src/engine/service/EngineService.js";
import { createTinyTah, generateTinyTah, tinyTahDefaults, writeTinyBackbone } from "../support/tinyTah.js";
import { testGpu } from "./engineHarness.js";

let root: string;
let tahDir: string;
let plainFile: string;
const contextSize = 256;
const completion: CompletionParams = { prefix: "def add(a, b):\n    return", suffix: "\n", maxTokens: 8, maxMs: 600_000, maxLines: 4, stream: false };
const analyzed = "def mean(values):\n    return sum(values) / len(values)\n";

function settings(modelPath: string, completionModelPath: string | null): EngineSettings {
    return { modelPath, completionModelPath, gpu: testGpu, threads: 1, contextSize, threshold: null };
}

async function withService<T>(engine: EngineSettings, run: (service: EngineService, models: LoadedModels) => T | Promise<T>): Promise<T> {
    const service = new EngineService(() => undefined);
    try {
        return await run(service, await service.load(engine, () => undefined, new AbortController().signal));
    } finally {
        await service.dispose();
    }
}

const signal = (): AbortSignal => new AbortController().signal;

before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah-two-models-"));
    tahDir = path.join(root, "chat-tah");
    plainFile = path.join(root, "completion.gguf");
    await generateTinyTah(tahDir, { seed: 21, threshold: 0.3 });
    await writeTinyBackbone(plainFile, createTinyTah({ seed: 22 }));
});

after(async () => {
    await rm(root, { recursive: true, force: true });
});

test("completion comes from the completion model and chat and analysis from the chat model, both loaded at once", async () => {
    const plainAlone = await withService(settings(plainFile, null), async (service) => (await service.complete(completion, () => undefined, signal())).text);
    const tahAlone = await withService(settings(tahDir, null), async (service) => ({
        completion: (await service.complete(completion, () => undefined, signal())).text,
        analysis: (await service.analyze({ text: analyzed }, signal())).tokens.map((token) => [token.token, token.difficulty]),
    }));
    assert.notEqual(plainAlone, tahAlone.completion, "the two models must complete differently for the test to tell them apart");

    await withService(settings(tahDir, plainFile), async (service, models) => {
        assert.equal(models.chat.kind, "tah");
        assert.equal(models.completion.kind, "plain");
        assert.equal(models.completion.path, plainFile);

        const completed = await service.complete(completion, () => undefined, signal());
        assert.equal(completed.text, plainAlone);
        assert.ok(completed.tokens.length > 0 && completed.tokens.every((token) => token.difficultyIsProxy), "completion tokens carry the plain model's proxy difficulty");

        const chatTokens: boolean[] = [];
        await service.chat({ messages: [{ role: "user", content: "add two numbers" }], maxTokens: 6, enableThinking: false, stream: true },
            (token) => chatTokens.push(token.difficultyIsProxy), signal());
        assert.ok(chatTokens.length > 0 && chatTokens.every((isProxy) => !isProxy), "chat tokens carry the TaH decider's difficulty");

        const analysis = await service.analyze({ text: analyzed }, signal());
        assert.deepEqual(analysis.tokens.map((token) => [token.token, token.difficulty]), tahAlone.analysis);
    });
});

test("each summary reports its model's weights and its own context's KV cache; one shared file is counted once", async () => {
    const { nLayer, nHeadKv, headDim } = tinyTahDefaults;
    const f16CellBytes = nLayer * nHeadKv * headDim * 2 * 2;
    await withService(settings(tahDir, plainFile), (_service, models) => {
        const chat = models.chat.memory;
        const completionMemory = models.completion.memory;
        assert.ok(chat !== undefined && completionMemory !== undefined);
        // chat: two sequences (chat, file analysis), each with depth-1 headroom of half the context (TahContext's default)
        assert.equal(chat.kvCacheBytes, 2 * Math.ceil(contextSize * 1.5) * f16CellBytes);
        // completion: one sequence per recent document, as many as the engine reports keeping
        const documents = models.completion.documentSequences ?? 1;
        assert.ok(documents >= 1);
        assert.equal(completionMemory.kvCacheBytes, documents * contextSize * f16CellBytes);
        assert.ok(chat.weightsBytes > completionMemory.weightsBytes, "the TaH model's weights include its LoRA and decider");
        assert.ok(completionMemory.weightsBytes > 0);
    });
    await withService(settings(tahDir, null), (_service, models) => {
        assert.equal(models.chat.path, models.completion.path);
        assert.equal(models.chat.memory?.weightsBytes, models.completion.memory?.weightsBytes);
        assert.equal(models.completion.memory?.kvCacheBytes, (models.completion.documentSequences ?? 1) * contextSize * 1.5 * f16CellBytes, "a TaH completion context keeps depth-1 headroom");
    });
});

test("the load warms both models (each file is mapped, not read) and reports ready only after", async () => {
    const stages: string[] = [];
    const warmed: string[] = [];
    const service = new EngineService((_level, message) => {
        const name = /^warmed up (.+?) in \d+ ms/.exec(message)?.[1];
        if (name !== undefined)
            warmed.push(name);
    });
    try {
        const models = await service.load(settings(tahDir, plainFile), (_fraction, stage) => {
            if (stages[stages.length - 1] !== stage)
                stages.push(stage);
        }, signal());
        assert.deepEqual(warmed.sort(), [models.chat.name, models.completion.name].sort(), "each model warmed once");
        assert.deepEqual(stages.slice(-3), ["warming up", "warming up the chat model", "ready"]);
    } finally {
        await service.dispose();
    }
});
