/**
 * The engine's token count (what VS Code's Chat budgets prompts with): the loaded model's own tokenizer, the same
 * tokens an analysis of the text evaluates; a text longer than any context is counted without tokenizing all of it.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import { charsPerTokenBound } from "../../src/engine/prompts/completionPrompt.js";
import { EngineService } from "../../src/engine/service/EngineService.js";
import { testGpu } from "./engineHarness.js";

const modelPath = path.resolve(import.meta.dirname, "..", "..", "models", "tah-code-default");
const contextSize = 512;
let service: EngineService;

before(async () => {
    service = new EngineService(() => undefined);
    await service.load({ modelPath, completionModelPath: null, gpu: testGpu, threads: 1, contextSize, threshold: null }, () => undefined, new AbortController().signal);
});

after(async () => {
    await service.dispose();
});

test("counts the tokens an analysis of the same text evaluates", async () => {
    // an analysis shows every token but the first (a token's difficulty is the prediction made before it)
    for (const text of ["four words of text", "def mean(values):\n    return sum(values) / len(values)\n", "é ü 漢字 🙂"]) {
        const analyzed = await service.analyze({ text }, new AbortController().signal);
        assert.deepEqual(service.tokenCount({ text }), { tokens: analyzed.tokens.length + 1, exact: true }, JSON.stringify(text));
    }
});

test("a text beyond any context: counted from its head and a lower bound for the rest, never below the context", () => {
    const text = "x = 1\n".repeat(contextSize * charsPerTokenBound);
    const count = service.tokenCount({ text });
    assert.equal(count.exact, false);
    assert.ok(count.tokens > contextSize, `${count.tokens} tokens`);
});

test("without a model: noModel", async () => {
    const idle = new EngineService(() => undefined);
    try {
        assert.throws(() => idle.tokenCount({ text: "x" }), (error: unknown) => engineErrorCodeOf(error) === "noModel");
    } finally {
        await idle.dispose();
    }
});
