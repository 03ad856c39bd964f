import assert from "node:assert/strict";
import { test } from "node:test";
import { extractContext } from "../../src/completion/completionContext.js";
import { blockStopIndent } from "../../src/completion/multilinePolicy.js";
import { keptLines } from "../../src/engine/prompts/completionStops.js";

const budget = { prefixLines: 8, suffixLines: 2, maxPrefixChars: 10_000, maxSuffixChars: 10_000 };
const at = (text: string): ReturnType<typeof extractContext> => extractContext(text.replace("|", ""), text.indexOf("|"), budget);

test("stops: a single line ends at the line's end", () => {
    assert.deepEqual(keptLines("total += value;", { maxLines: 1 }), { lines: 1, done: false });
    assert.deepEqual(keptLines("total += value;\n", { maxLines: 1 }), { lines: 1, done: true });
});

test("stops: after a block opener, the block's end ends the suggestion; without the rule only the line budget does (control)", () => {
    const stopBelowIndent = blockStopIndent(at("    if (x) {|"), 8);
    assert.equal(stopBelowIndent, 5);
    const text = "\n        a();\n        b();\n    }\n    c();";
    assert.deepEqual(keptLines(text, { maxLines: 8, stopBelowIndent }), { lines: 3, done: true });
    assert.deepEqual(keptLines(text, { maxLines: 8 }), { lines: 5, done: false });
    // a line with only its indentation so far may still grow: not the end yet
    assert.deepEqual(keptLines("\n        a();\n    ", { maxLines: 8, stopBelowIndent }), { lines: 3, done: false });
});

test("stops: on an empty line, sibling statements go on and the enclosing block's end stops", () => {
    const stopBelowIndent = blockStopIndent(at("function f() {\n    |"), 8);
    assert.equal(stopBelowIndent, 4);
    assert.deepEqual(keptLines("a();\n    b();\n}\nnext();", { maxLines: 8, stopBelowIndent }), { lines: 2, done: true });
    assert.equal(blockStopIndent(at("    const x = 1|"), 8), undefined, "inside code: no block rule");
    assert.equal(blockStopIndent(at("    if (x) {|"), 1), undefined, "single line: no block rule");
});
