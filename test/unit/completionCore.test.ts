import assert from "node:assert/strict";
import { test } from "node:test";
import type { CompletionParams, CompletionResult, TokenView } from "../../src/engine/protocol/engineProtocol.js";
import { type CompleteFunction, InlineCompletionService } from "../../src/completion/InlineCompletionService.js";
import { AdaptiveDebounce } from "../../src/completion/AdaptiveDebounce.js";
import { CompletionCache } from "../../src/completion/CompletionCache.js";
import { extractContext, prefixWindowStride } from "../../src/completion/completionContext.js";
import { maxLinesFor, shouldSkipAutomatic } from "../../src/completion/multilinePolicy.js";
import { postProcess, suffixOverlap, type Suggestion } from "../../src/completion/postProcess.js";

function token(text: string, difficulty = 0.1): TokenView {
    return { token: 0, piece: text, text, difficulty, difficultyIsProxy: false, iterated: difficulty > 0.5, changed: false, before: [], after: [] };
}

function suggestion(...parts: Array<[string, number?]>): Suggestion {
    const tokens = parts.map(([text, difficulty]) => token(text, difficulty));
    return { text: tokens.map((t) => t.text).join(""), tokens };
}

const budget = { prefixLines: 2, suffixLines: 1, maxPrefixChars: 10_000, maxSuffixChars: 10_000 };

test("context: prefix from a line start, suffix to a line end, the cursor's line split", () => {
    const text = "line0\nline1\nline2\nab|cd\nline4\nline5\n";
    const offset = text.indexOf("|");
    // the text starts on document line 15: the cursor is on line 18, the window starts on line 16 (a stride multiple)
    const context = extractContext(text.replace("|", ""), offset, budget, 15);
    assert.equal(context.prefix, "line1\nline2\nab");
    assert.equal(context.suffix, "cd\nline4");
    assert.equal(context.linePrefix, "ab");
    assert.equal(context.lineSuffix, "cd");
});

test("context: the prefix window starts on a stride multiple, so typing a new line leaves its start in place", () => {
    const lines = Array.from({ length: 60 }, (_, i) => `line${i}`);
    const window = { ...budget, prefixLines: 20 };
    const startOf = (cursorLine: number): string => {
        const text = `${lines.slice(0, cursorLine).join("\n")}\n`;
        return extractContext(text, text.length, window).prefix.split("\n")[0];
    };
    assert.equal(startOf(40), `line${16}`, "40 − 20 = 20, down to 16");
    assert.equal(startOf(41), `line${16}`, "one more line typed: the same start");
    assert.equal(startOf(51), `line${16}`, "up to prefixLines + stride − 1 lines");
    assert.equal(startOf(52), `line${prefixWindowStride * 2}`, "the window moves a stride at a time");
    assert.ok(extractContext(`${lines.join("\n")}`, 0, window).prefix === "");
});

test("context: the character cap keeps whole lines where it can", () => {
    const text = `${"x".repeat(50)}\n${"y".repeat(10)}\nzz`;
    const context = extractContext(text, text.length, { ...budget, prefixLines: 10, maxPrefixChars: 20 });
    assert.equal(context.prefix, `${"y".repeat(10)}\nzz`);
});

test("multi-line: one line inside a line, several after a block opener or on an empty line", () => {
    const at = (text: string): ReturnType<typeof extractContext> => extractContext(text.replace("|", ""), text.indexOf("|"), budget);
    assert.equal(maxLinesFor(at("foo(|)"), "auto", 8), 1);
    assert.equal(maxLinesFor(at("if (x) {|"), "auto", 8), 8);
    assert.equal(maxLinesFor(at("def f():|"), "auto", 8), 8);
    assert.equal(maxLinesFor(at("    |"), "auto", 8), 8);
    assert.equal(maxLinesFor(at("const x = 1|"), "auto", 8), 1);
    assert.equal(maxLinesFor(at("if (x) {|"), "never", 8), 1);
    assert.equal(maxLinesFor(at("foo(|)"), "always", 8), 8);
    assert.equal(shouldSkipAutomatic(at("a|bcdefghijkl"), 8), true);
    assert.equal(shouldSkipAutomatic(at("a|);"), 8), false);
});

test("post-processing trims what the suffix already has and refuses repeats of the next lines", () => {
    assert.equal(suffixOverlap("x, y)", ")"), 1);
    assert.equal(suffixOverlap("x);", "  );"), 2);
    assert.equal(suffixOverlap("abc", "xyz"), 0);
    assert.equal(postProcess(suggestion(["a, b)"]), { suffix: ")", maxLines: 8, hardTokenPolicy: "off", hardTokenThreshold: 0.5, leadingTokens: 3 })?.text, "a, b");
    assert.equal(postProcess(suggestion(["\n    return x"]), { suffix: "\n    return x\n}", maxLines: 8, hardTokenPolicy: "off", hardTokenThreshold: 0.5, leadingTokens: 3 }), undefined);
    assert.equal(postProcess(suggestion(["   \n  "]), { suffix: "", maxLines: 8, hardTokenPolicy: "off", hardTokenThreshold: 0.5, leadingTokens: 3 }), undefined);
});

test("post-processing never lets markup through", () => {
    const result = postProcess(suggestion(["foo()"], ["<think>"], ["bar"]), { suffix: "", maxLines: 8, hardTokenPolicy: "off", hardTokenThreshold: 0.5, leadingTokens: 3 });
    assert.equal(result?.text, "foo()");
    assert.equal(postProcess(suggestion(["x"], ["<|fim_pad|>"]), { suffix: "", maxLines: 8, hardTokenPolicy: "off", hardTokenThreshold: 0.5, leadingTokens: 3 })?.text, "x");
});

test("TaH policies: cut before the first hard token, or hold back when a hard token leads", () => {
    const raw = suggestion(["total"], [" +="], [" item", 0.95], [".price"]);
    const truncated = postProcess(raw, { suffix: "", maxLines: 8, hardTokenPolicy: "truncate", hardTokenThreshold: 0.9, leadingTokens: 3 });
    assert.equal(truncated?.text, "total +=");
    assert.deepEqual(truncated?.tokens.map((t) => t.text), ["total", " +="]);
    assert.equal(postProcess(raw, { suffix: "", maxLines: 8, hardTokenPolicy: "hide", hardTokenThreshold: 0.9, leadingTokens: 3 }), undefined);
    assert.equal(postProcess(raw, { suffix: "", maxLines: 8, hardTokenPolicy: "hide", hardTokenThreshold: 0.9, leadingTokens: 2 })?.text, "total += item.price");
    assert.equal(postProcess(raw, { suffix: "", maxLines: 8, hardTokenPolicy: "off", hardTokenThreshold: 0.9, leadingTokens: 3 })?.text, "total += item.price");
    // a plain model's proxy difficulty is not the decider's: the policies leave its suggestions whole
    const plain: Suggestion = { ...raw, tokens: raw.tokens.map((t) => ({ ...t, difficultyIsProxy: true })) };
    for (const hardTokenPolicy of ["truncate", "hide"] as const)
        assert.equal(postProcess(plain, { suffix: "", maxLines: 8, hardTokenPolicy, hardTokenThreshold: 0.9, leadingTokens: 3 })?.text, "total += item.price", hardTokenPolicy);
});

test("post-processing cuts the line the engine's last token started, whether or not the engine cut it", () => {
    const options = { suffix: "", maxLines: 2, hardTokenPolicy: "off" as const, hardTokenThreshold: 0.9, leadingTokens: 3 };
    // an engine that stops on the token that starts a third line and sends it whole
    const whole = postProcess(suggestion(["a = 1"], ["\nb = 2"], ["\nc"]), options);
    assert.equal(whole?.text, "a = 1\nb = 2");
    assert.deepEqual(whole?.tokens.map((t) => t.text), ["a = 1", "\nb = 2"]);
    // an engine that already cut it gives the same answer
    assert.deepEqual(postProcess(suggestion(["a = 1"], ["\nb = 2"]), options), whole);
    // one line inside a line: only the rest of that line
    assert.equal(postProcess(suggestion(["x)"], [";\n  y"]), { ...options, maxLines: 1 })?.text, "x);");
    // a token that ends one line and starts the next is cut in the middle
    const split = postProcess(suggestion(["foo"], ["()\n    bar"]), { ...options, maxLines: 1 });
    assert.deepEqual(split?.tokens.map((t) => t.text), ["foo", "()"]);
});

test("post-processing runs its steps in order: markup, lines, hard tokens, whitespace, suffix, repeats", () => {
    const base = { suffix: "", maxLines: 1, hardTokenPolicy: "hide" as const, hardTokenThreshold: 0.9, leadingTokens: 3 };
    // the hard token sits on the line that is cut, so hide does not hold the first line back
    assert.equal(postProcess(suggestion(["ok"], ["\n"], ["hard", 0.95]), base)?.text, "ok");
    // the suffix overlap is found after the trailing whitespace went
    assert.equal(postProcess(suggestion(["a)"], [" \n"]), { ...base, suffix: ")", hardTokenPolicy: "off" })?.text, "a");
    // markup first: a line break after it does not matter
    assert.equal(postProcess(suggestion(["x"], ["<|endoftext|>"], ["\ny"]), { ...base, maxLines: 3 })?.text, "x");
});

test("cache: typing along a suggestion returns its remainder with its tokens", () => {
    const cache = new CompletionCache(10);
    cache.set("let a = ", ";", suggestion(["compute"], ["(x"], [")"]));
    assert.equal(cache.get("let a = ", ";")?.suggestion.text, "compute(x)");
    const hit = cache.get("let a = comp", ";");
    assert.equal(hit?.typed, 4);
    assert.equal(hit?.suggestion.text, "ute(x)");
    assert.deepEqual(hit?.suggestion.tokens.map((t) => t.text), ["ute", "(x", ")"]);
    assert.equal(cache.get("let a = cx", ";"), undefined, "typed text that leaves the suggestion misses");
    assert.equal(cache.get("let a = compute(x)", ";"), undefined, "a fully typed suggestion is not offered again");
    assert.equal(cache.get("let a = comp", "other"), undefined, "another suffix misses");
});

test("cache: least recently used entries go first", () => {
    const cache = new CompletionCache(2);
    cache.set("a", "", suggestion(["1"]));
    cache.set("b", "", suggestion(["2"]));
    cache.get("a", "");
    cache.set("c", "", suggestion(["3"]));
    assert.notEqual(cache.get("a", ""), undefined);
    assert.equal(cache.get("b", ""), undefined);
});

test("debounce: follows typing rhythm, shortens at likely spots, and respects its bounds", () => {
    const debounce = new AdaptiveDebounce();
    const settings = { baseMs: 100, adaptive: true };
    for (let t = 0; t <= 1000; t += 200)
        debounce.recordKeystroke(t);
    const likely = debounce.delayMs({ lastCharacter: ".", atLineEnd: true, atDocumentEnd: true }, settings);
    const unlikely = debounce.delayMs({ lastCharacter: "x", atLineEnd: false, atDocumentEnd: false }, settings);
    // base: halfway between the setting (100) and the rhythm (200)
    assert.equal(likely, 75);
    assert.equal(unlikely, 225);
    debounce.recordLatency(2000);
    assert.equal(debounce.delayMs({ lastCharacter: ".", atLineEnd: true, atDocumentEnd: true }, settings), 25);
    assert.equal(debounce.delayMs({ lastCharacter: "x", atLineEnd: false, atDocumentEnd: false }, { baseMs: 250, adaptive: false }), 250);
});

test("debounce: a fast engine is not waited for longer than twice its answer; before any answer there is no cap (control)", () => {
    const fast = new AdaptiveDebounce();
    const unknown = new AdaptiveDebounce();
    for (let t = 0; t <= 1000; t += 200) {
        fast.recordKeystroke(t);
        unknown.recordKeystroke(t);
    }
    fast.recordLatency(22);
    const atLineEnd = { lastCharacter: "x", atLineEnd: true, atDocumentEnd: false };
    const settings = { baseMs: 200, adaptive: true };
    assert.equal(fast.delayMs(atLineEnd, settings), 44);
    assert.equal(unknown.delayMs(atLineEnd, settings), 220);
});

test("the service shapes what the engine sends with the line limit it asked for, and sends no stream unless asked", async () => {
    const asked: CompletionParams[] = [];
    const complete: CompleteFunction = (params) => {
        asked.push(params);
        const result: CompletionResult = {
            text: "1)\n  more", tokens: [token("1)"), token("\n  more")], stopReason: "maxLines", promptTokens: 3, reusedTokens: 0,
            mode: "fim", prefillMs: 0, decodeMs: 0, stats: { generatedTokens: 2, iteratedTokens: 0, tokensPerSecond: null }
        };
        return Promise.resolve(result);
    };
    const settings = {
        ...budget, debounceMs: 0, adaptiveDebounce: false, maxTokens: 16, maxMs: 500, multiline: "auto" as const, maxLines: 8,
        maxLineSuffix: 8, hardTokenPolicy: "off" as const, hardTokenThreshold: 0.9, cacheSize: 10
    };
    const service = new InlineCompletionService(complete, () => settings);
    const outcome = await service.provide({ text: "f(x, ", offset: 5, trigger: "explicit", signal: new AbortController().signal });
    assert.equal(asked[0]?.maxLines, 1);
    assert.equal(asked[0]?.stream, false);
    assert.equal(outcome.suggestion?.text, "1)");
});
