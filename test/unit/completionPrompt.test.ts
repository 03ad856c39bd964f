import assert from "node:assert/strict";
import { test } from "node:test";
import { layoutFimPrompt, prefixDropStride } from "../../src/engine/prompts/completionPrompt.js";
import { parseFimOrders, preferredFimOrder } from "../../src/engine/prompts/fimOrder.js";
import { CompletionSequencePool, fileSequenceCount, maxFileSequences } from "../../src/engine/service/CompletionSequencePool.js";

const fim = { prefix: -1, suffix: -2, middle: -3 };
/** A tokenizer of one token per character: enough to see where each side lands. */
const chars = (text: string): number[] => [...text].map((c) => c.codePointAt(0)!);

function commonPrefix(a: readonly number[], b: readonly number[]): number {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i])
        i++;
    return i;
}

test("FIM layout: PSM puts the prefix first, SPM the suffix first (the FIM paper's SPM variant)", () => {
    assert.deepEqual(layoutFimPrompt(fim, chars("ab"), chars("yz"), 100, "psm"), [-1, ...chars("ab"), -2, ...chars("yz"), -3]);
    assert.deepEqual(layoutFimPrompt(fim, chars("ab"), chars("yz"), 100, "spm"), [-1, -2, ...chars("yz"), -3, ...chars("ab")]);
});

test("FIM layout: PSM puts the cursor's line after <fim_middle>, where llama.cpp's /infill puts its prompt", () => {
    assert.deepEqual(layoutFimPrompt(fim, chars("ab\ncd"), chars("yz"), 100, "psm", { cursorLineTokens: 2 }), [-1, ...chars("ab\n"), -2, ...chars("yz"), -3, ...chars("cd")]);
    assert.deepEqual(layoutFimPrompt(fim, chars("ab\ncd"), chars("yz"), 100, "spm", { cursorLineTokens: 2 }), [-1, -2, ...chars("yz"), -3, ...chars("ab\ncd")]);
    // a line longer than the budget: the prefix's start goes first, then the line's
    assert.deepEqual(layoutFimPrompt(fim, chars("ab\n0123456789"), chars("yz"), 10, "psm", { cursorLineTokens: 10 }), [-1, -2, ...chars("y"), -3, ...chars("456789")]);
});

test("FIM layout: a keystroke leaves every earlier token as it was in SPM and in PSM with the line in the middle; PSM without it loses the suffix (control)", () => {
    const prefix = "function sum(values) {\n    const total = values.reduce(";
    const line = "    const total = values.reduce(".length;
    const suffix = ");\nreturn total;\n";
    for (const [order, cursorLineTokens] of [["spm", line], ["psm", line], ["psm", 0]] as const) {
        const before = layoutFimPrompt(fim, chars(prefix), chars(suffix), 1000, order, { cursorLineTokens });
        const after = layoutFimPrompt(fim, chars(`${prefix}(`), chars(suffix), 1000, order, { cursorLineTokens: cursorLineTokens === 0 ? 0 : cursorLineTokens + 1 });
        const kept = commonPrefix(before, after);
        if (cursorLineTokens > 0)
            assert.equal(kept, before.length, `${order}: only the new character is new`);
        else
            assert.equal(kept, 1 + prefix.length, "PSM with the whole prefix before the suffix: the suffix after the typed text is new again");
    }
});

test("FIM layout: a short budget keeps the end of the prefix and the start of the suffix, in both orders", () => {
    const prefix = chars("0123456789abcdefghij");
    const suffix = chars("ABCDEFGHIJ");
    for (const order of ["psm", "spm"] as const) {
        const tokens = layoutFimPrompt(fim, prefix, suffix, 15, order);
        assert.equal(tokens.length, 15);
        const middle = tokens.indexOf(-3);
        const suffixPart = order === "psm" ? tokens.slice(tokens.indexOf(-2) + 1, middle) : tokens.slice(2, middle);
        const prefixPart = order === "psm" ? tokens.slice(1, tokens.indexOf(-2)) : tokens.slice(middle + 1);
        assert.deepEqual(suffixPart, suffix.slice(0, suffixPart.length), `${order}: the suffix's start`);
        assert.deepEqual(prefixPart, prefix.slice(prefix.length - prefixPart.length), `${order}: the prefix's end`);
        assert.equal(suffixPart.length, 3, `${order}: the suffix takes its quarter of the room`);
    }
});

test("FIM layout: a prefix longer than the budget loses its start in strides, so typing keeps the prompt's start", () => {
    const suffix = chars(");\n}\n");
    let starts = 0;
    let previous: number[] | undefined;
    for (let typed = 0; typed < 64; typed++) {
        // a distinct token per position, as typed text appends them
        const tokens = layoutFimPrompt(fim, Array.from({ length: 1000 + typed }, (_, i) => 1000 + i), suffix, 600, "spm");
        assert.ok(tokens.length <= 600);
        if (previous !== undefined && commonPrefix(previous, tokens) < previous.length)
            starts++;
        previous = tokens;
    }
    // 600 − 3 − 6 = 591 prefix tokens kept at most; strides of 64: one cut in 64 keystrokes, not 64
    assert.ok(starts <= 1, `the prompt's cached part was lost ${starts} times in 64 keystrokes`);
    assert.ok(previous!.length > 600 - prefixDropStride, "a stride leaves most of the budget in use");
});

test("FIM layout: the PSM suffix cap bounds the suffix; SPM does not need it", () => {
    const suffix = chars("x".repeat(50));
    const psm = layoutFimPrompt(fim, chars("ab"), suffix, 1000, "psm", { maxSuffixTokens: 8 });
    assert.equal(psm.length - 2 - 3, 8);
    const spm = layoutFimPrompt(fim, chars("ab"), suffix, 1000, "spm", { maxSuffixTokens: 8 });
    assert.equal(spm.length - 2 - 3, 50);
    // the prefix takes the room a capped suffix leaves
    const tight = layoutFimPrompt(fim, chars("p".repeat(40)), suffix, 23, "psm", { maxSuffixTokens: 2 });
    assert.equal(tight.filter((t) => t === 112).length, 18);
});

test("FIM orders: tah.fim.orders names the orders; absent or unknown means PSM only, and SPM is preferred when known", () => {
    assert.deepEqual(parseFimOrders(undefined), ["psm"]);
    assert.deepEqual(parseFimOrders("spm"), ["spm"]);
    assert.deepEqual(parseFimOrders("psm, SPM"), ["psm", "spm"]);
    assert.deepEqual(parseFimOrders("psm,msp"), ["psm"]);
    assert.deepEqual(parseFimOrders(3), ["psm"]);
    assert.equal(preferredFimOrder(["psm", "spm"]), "spm");
    assert.equal(preferredFimOrder(["psm"]), "psm");
});

test("document sequences: the most recent documents keep theirs; a new one takes the least recently used", () => {
    const pool = new CompletionSequencePool(2);
    const a = pool.sequenceFor("a");
    const b = pool.sequenceFor("b");
    assert.notEqual(a, b);
    assert.equal(pool.sequenceFor("a"), a, "switching back finds its own sequence");
    const c = pool.sequenceFor("c");
    assert.equal(c, b, "b was the least recently used");
    assert.deepEqual(pool.documents, ["a", "c"]);
    assert.equal(pool.sequenceFor("a"), a);
    assert.throws(() => new CompletionSequencePool(0), RangeError);
});

test("document sequences: as many documents as the memory bound allows", () => {
    // Qwen3-0.6B: 2 × 28 layers × 8 KV heads × 128 × 2 bytes per position
    assert.equal(fileSequenceCount(114_688 * 3072), 1, "a 0.6B model at 2,048 positions keeps one");
    assert.equal(fileSequenceCount(1 << 20), maxFileSequences);
    assert.equal(fileSequenceCount(undefined), 1);
});
