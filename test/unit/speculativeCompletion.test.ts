import assert from "node:assert/strict";
import { test } from "node:test";
import { type CompleteFunction, InlineCompletionService, type InlineCompletionSettings } from "../../src/completion/InlineCompletionService.js";
import type { CompletionParams, CompletionResult, TokenView } from "../../src/engine/protocol/engineProtocol.js";

const settings: InlineCompletionSettings = {
    debounceMs: 0, adaptiveDebounce: false, maxTokens: 16, maxMs: 500, multiline: "never", maxLines: 1, maxLineSuffix: 8,
    prefixLines: 8, suffixLines: 2, maxPrefixChars: 4000, maxSuffixChars: 1000, hardTokenPolicy: "off", hardTokenThreshold: 0.9, cacheSize: 16
};

function result(text: string): CompletionResult {
    const token: TokenView = { token: 0, piece: text, text, difficulty: 0.1, difficultyIsProxy: false, iterated: false, changed: false, before: [], after: [] };
    return {
        text, tokens: [token], stopReason: "maxTokens", promptTokens: 10, reusedTokens: 0, mode: "fim", prefillMs: 1, decodeMs: 1,
        stats: { generatedTokens: 0, iteratedTokens: 0, tokensPerSecond: null }
    };
}

/** An engine that continues "a" with "b", "ab" with "c" and so on, and records what it is asked. */
function alphabetEngine(asked: CompletionParams[], hold?: Promise<void>): CompleteFunction {
    return async (params, options) => {
        asked.push(params);
        await hold;
        if (options.signal.aborted)
            throw new Error("aborted");
        const last = params.prefix.at(-1) ?? "a";
        return result(String.fromCharCode(last.charCodeAt(0) + 1));
    };
}

const request = (text: string, document = "file:///a.ts"): Parameters<InlineCompletionService["provide"]>[0] =>
    ({ text: `${text}\n`, offset: text.length, trigger: "explicit", signal: new AbortController().signal, document });

test("speculation: after a suggestion is shown, the one that follows its acceptance is asked for and served from the cache", async () => {
    const asked: CompletionParams[] = [];
    const service = new InlineCompletionService(alphabetEngine(asked), () => settings);
    const first = await service.provide(request("x = a"));
    assert.equal(first.suggestion?.text, "b");
    await service.speculationSettled();
    assert.deepEqual(asked.map((params) => params.prefix), ["x = a", "x = ab"], "the speculative request has the suggestion accepted");
    assert.equal(asked[1].document, "file:///a.ts", "it names the document, so it warms that document's KV");
    const accepted = await service.provide(request("x = ab"));
    assert.equal(accepted.source, "cache");
    assert.equal(accepted.suggestion?.text, "c");
});

test("speculation off: accepting asks the engine again (the control for the test above)", async () => {
    const asked: CompletionParams[] = [];
    const service = new InlineCompletionService(alphabetEngine(asked), () => ({ ...settings, speculative: false }));
    await service.provide(request("x = a"));
    await service.speculationSettled();
    assert.equal(asked.length, 1);
    assert.equal((await service.provide(request("x = ab"))).source, "engine");
});

test("speculation: a request the cache cannot answer cancels the running speculation", async () => {
    const asked: CompletionParams[] = [];
    let open = (): void => undefined;
    const hold = new Promise<void>((resolve) => (open = resolve));
    const signals: AbortSignal[] = [];
    const engine = alphabetEngine(asked, hold);
    const service = new InlineCompletionService((params, options) => {
        signals.push(options.signal);
        return engine(params, options);
    }, () => settings);
    const first = service.provide(request("x = a"));
    open();
    await first;
    // the speculation for "x = ab" is running; the user typed something else
    const elsewhere = service.provide(request("y = q"));
    assert.equal(signals[1].aborted, true, "the speculation was cancelled");
    assert.equal((await elsewhere).suggestion?.text, "r");
    await service.speculationSettled();
});
