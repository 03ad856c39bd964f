/** The status bar with one model per role, and the download notification's words. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ModelSummary } from "../../src/engine/protocol/engineProtocol.js";
import { downloadProgressText } from "../../src/ui/downloadProgressText.js";
import { meanDepth, statusText } from "../../src/ui/statusText.js";

const model = (name: string, kind: ModelSummary["kind"], memory?: ModelSummary["memory"]): ModelSummary => ({
    name, kind, path: `/m/${name}`, backend: "cpu", threads: 2, contextSize: 4096, threshold: kind === "tah" ? 0.5 : null,
    hasFim: kind === "plain", hasChatTemplate: true, vocabularySize: 100, ...(memory !== undefined ? { memory } : {}),
});

test("two models: the status bar names both, the tooltip describes each and the memory they take together", () => {
    const chat = model("tah-plus", "tah", { weightsBytes: 2 ** 30, kvCacheBytes: 2 ** 29 });
    const completion = model("coder", "plain", { weightsBytes: 2 ** 29, kvCacheBytes: 2 ** 28 });
    const { text, tooltip } = statusText({ kind: "ready", model: chat, completionModel: completion }, undefined, true, true);
    assert.equal(text, "$(sparkle) TaH: tah-plus · ghost text: coder");
    assert.match(tooltip, /^Chat: tah-plus — TaH model, threshold 0\.5, prefix-only.*Ghost text: coder — plain GGUF \(difficulty is a proxy\), fill-in-the-middle\./);
    assert.match(tooltip, /2\.3 GiB loaded/);
});

test("one model for both roles: named once, its weights counted once", () => {
    const shared = model("tah-plus", "tah", { weightsBytes: 2 ** 30, kvCacheBytes: 2 ** 28 });
    const { text, tooltip } = statusText({ kind: "ready", model: shared, completionModel: shared }, undefined, true, true);
    assert.equal(text, "$(sparkle) TaH: tah-plus");
    assert.match(tooltip, /1\.5 GiB loaded/);
    assert.doesNotMatch(statusText({ kind: "ready", model: model("a", "tah"), completionModel: model("a", "tah") }, undefined, true, true).tooltip, /loaded/);
});

test("download progress: bytes, speed and time left once measured, files", () => {
    assert.equal(downloadProgressText({ doneBytes: 512 * 2 ** 20, totalBytes: 2 ** 31, bytesPerSecond: 8 * 2 ** 20, secondsLeft: 192, filesDone: 1, filesTotal: 3 }),
        "512.0 MiB of 2.0 GiB · 8.0 MiB/s · 3 min left · 1/3 files");
    assert.equal(downloadProgressText({ doneBytes: 0, totalBytes: 2 ** 20, bytesPerSecond: undefined, secondsLeft: undefined, filesDone: 0, filesTotal: 1 }),
        "0 B of 1.0 MiB · 0/1 files");
    assert.equal(downloadProgressText({ doneBytes: 100, totalBytes: 100, bytesPerSecond: 50, secondsLeft: 0, filesDone: 1, filesTotal: 1 }),
        "100 B of 100 B · 50 B/s · 1/1 files");
});

test("the mean depth: the depth sum over the generated tokens, beside the iterated share; absent or nonsense reports show none", () => {
    const tah = model("tah2", "tah");
    const ready = { kind: "ready", model: tah, completionModel: tah } as const;
    // 10 tokens: 4 iterated, depths summing to 7 (a TaH2 model with more than two depths): not the iterated share
    const { text, tooltip } = statusText(ready, { generatedTokens: 10, iteratedTokens: 4, tokensPerSecond: 20, depthSum: 7 }, true, true);
    assert.equal(text, "$(sparkle) TaH: tah2 · 20.0 t/s · 40% iterated · mean depth 0.70");
    assert.match(tooltip, /Mean depth: how deep the generated tokens went/);
    const older = statusText(ready, { generatedTokens: 10, iteratedTokens: 4, tokensPerSecond: 20 }, true, true);
    assert.equal(older.text, "$(sparkle) TaH: tah2 · 20.0 t/s · 40% iterated", "an engine that predates depthSum");
    assert.doesNotMatch(older.tooltip, /Mean depth/);
    for (const depthSum of [Number.NaN, -1, Number.POSITIVE_INFINITY, "7" as unknown as number])
        assert.doesNotMatch(statusText(ready, { generatedTokens: 10, iteratedTokens: 4, tokensPerSecond: 20, depthSum }, true, true).text, /depth/, String(depthSum));
    assert.doesNotMatch(statusText(ready, { generatedTokens: 0, iteratedTokens: 0, tokensPerSecond: null, depthSum: 0 }, true, true).text, /depth/, "nothing generated yet");
    const plain = model("coder", "plain");
    assert.doesNotMatch(statusText({ kind: "ready", model: plain, completionModel: plain }, { generatedTokens: 10, iteratedTokens: 0, tokensPerSecond: 20, depthSum: 0 }, true, true).text, /depth/, "a plain model has no depth");
    assert.equal(meanDepth({ generatedTokens: 4, iteratedTokens: 2, tokensPerSecond: null, depthSum: 6 }), 1.5);
});
