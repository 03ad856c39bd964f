/**
 * What makes completions cheap while typing, on the default model through EngineService and its sequences: prompts
 * that keep their KV across a keystroke (SPM, and PSM with the cursor's line after <fim_middle>) and give what a cold
 * prefill gives, one KV sequence per recent document, and a chat in progress that leaves a completion's tokens as they are.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { TahContext } from "../../src/engine/evaluator/TahContext.js";
import { greedy } from "../../src/engine/evaluator/sampling.js";
import { TahModel } from "../../src/engine/model/TahModel.js";
import { loadPatchedLlama, type PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { buildCompletionPrompt } from "../../src/engine/prompts/completionPrompt.js";
import type { CompletionParams } from "../../src/engine/protocol/engineProtocol.js";
import { EngineService } from "../../src/engine/service/EngineService.js";
import { testGpu } from "./engineHarness.js";

const modelPath = path.resolve(import.meta.dirname, "..", "..", "models", "tah-code-default");
const files = {
    a: { prefix: "export function sum(values: number[]): number {\n    let total = 0;\n    for (const value of values) {\n        total += ", suffix: "\n    }\n    return total;\n}\n" },
    b: { prefix: "def mean(values):\n    if not values:\n        return 0\n    return sum(values) / ", suffix: "\n\nprint(mean([1, 2, 3]))\n" },
    c: { prefix: "const names = users\n    .filter((user) => user.active)\n    .map((user) => ", suffix: ");\nconsole.log(names);\n" }
};

let service: EngineService;
let patched: PatchedLlama;
let model: TahModel;

const signal = (): AbortSignal => new AbortController().signal;
const params = (file: keyof typeof files, document: string | undefined): CompletionParams =>
    ({ ...files[file], maxTokens: 8, maxMs: 600_000, maxLines: 1, stream: false, ...(document !== undefined ? { document } : {}) });

before(async () => {
    service = new EngineService(() => undefined);
    await service.load({ modelPath, completionModelPath: null, gpu: testGpu, threads: 1, contextSize: 1024, threshold: null }, () => undefined, signal());
    patched = await loadPatchedLlama({ gpu: testGpu });
    model = await TahModel.load(patched, modelPath);
});

after(async () => {
    await service.dispose();
    await model.dispose();
});

test("SPM and PSM: a keystroke reuses every token before the typed line's end, and the reused KV gives what a cold prefill gives", async () => {
    const context = await TahContext.create(model, { sequences: 2, contextSize: 512, threads: 1 });
    try {
        const warm = context.sequence(0);
        const cold = context.sequence(1);
        for (const order of ["spm", "psm"] as const) {
            const before = buildCompletionPrompt(model, files.a.prefix, files.a.suffix, 400, { order });
            const after = buildCompletionPrompt(model, `${files.a.prefix}value`, files.a.suffix, 400, { order });
            await warm.prefill(before.tokens, { keep: 0 });
            const typed = await warm.prefill(after.tokens, { sample: greedy });
            // SPM: every token before the typed one; PSM: the prefix's earlier lines and the whole suffix, as the
            // cursor's line comes after <fim_middle>
            const middleAt = before.tokens.indexOf(model.fimTokens!.middle);
            if (order === "spm")
                assert.ok(typed.reused >= before.tokens.length - 1, `SPM reused ${typed.reused} of ${before.tokens.length}`);
            else
                assert.ok(typed.reused > middleAt && middleAt < before.tokens.length - 1, `PSM reused ${typed.reused}; the suffix ends at ${middleAt}`);
            await cold.truncate(0);
            const fresh = await cold.prefill(after.tokens, { sample: greedy });
            assert.equal(fresh.reused, 0);
            assert.equal(typed.nextToken, fresh.nextToken, `${order}: the same next token warm and cold`);
        }
    } finally {
        await context.dispose();
    }
});

test("documents: switching back to a file reuses its prompt; without document names the other file evicts it (control)", async () => {
    const status = service.status().models?.completion;
    assert.ok((status?.documentSequences ?? 0) >= 2, "the default model is small enough to keep several documents");
    assert.ok((status?.memory?.kvCacheBytes ?? 0) > 0, "the completion context's KV memory is reported");
    for (const named of [true, false]) {
        const name = (file: string): string | undefined => named ? `file:///${file}-${String(named)}` : undefined;
        const first = await service.complete(params("a", name("a")), () => undefined, signal());
        await service.complete(params("b", name("b")), () => undefined, signal());
        const back = await service.complete(params("a", name("a")), () => undefined, signal());
        assert.equal(back.text, first.text);
        if (named)
            assert.equal(back.reusedTokens, back.promptTokens - 1, "all but the last prompt token reused");
        else
            assert.ok(back.reusedTokens < back.promptTokens / 2, `one shared sequence reused ${back.reusedTokens} of ${back.promptTokens}`);
    }
});

test("a chat in progress does not change a completion's tokens", async () => {
    const alone = await service.complete(params("c", "file:///alone"), () => undefined, signal());
    let chatTokens = 0;
    let chatDone = false;
    let resolveStarted = (): void => undefined;
    const started = new Promise<void>((resolve) => (resolveStarted = resolve));
    const chat = service.chat({ messages: [{ role: "user", content: "Explain what a mean is, at length." }], maxTokens: 256, enableThinking: false, stream: true }, () => {
        chatTokens++;
        resolveStarted();
    }, signal()).finally(() => (chatDone = true));
    await started;
    const tokensBefore = chatTokens;
    // another document: a cold prefill and decode whose steps interleave with the chat's
    const during = await service.complete(params("c", "file:///during-a-chat"), () => undefined, signal());
    const chatRan = chatTokens > tokensBefore || !chatDone;
    await chat;
    assert.ok(chatRan, "the chat was generating while the completion ran");
    assert.ok(during.reusedTokens <= 1, `the completion was evaluated from scratch (${during.reusedTokens} reused)`);
    assert.deepEqual(during.tokens.map((token) => token.token), alone.tokens.map((token) => token.token));
    assert.deepEqual(during.tokens.map((token) => token.iterated), alone.tokens.map((token) => token.iterated));
});
