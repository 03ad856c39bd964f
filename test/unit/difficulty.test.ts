import assert from "node:assert/strict";
import { test } from "node:test";
import { DifficultyStore } from "../../src/difficulty/DifficultyStore.js";
import { codeSpan, hoverMarkdown } from "../../src/difficulty/hoverContent.js";
import { applyChange, layOut } from "../../src/difficulty/trackedTokens.js";
import type { TokenView } from "../../src/engine/protocol/engineProtocol.js";

function view(text: string, difficulty = 0.2, iterated = false): TokenView {
    return {
        token: 1, piece: text, text, difficulty, difficultyIsProxy: false, iterated, changed: iterated,
        before: [{ token: 1, piece: "old", prob: 0.6 }, { token: 2, piece: text, prob: 0.3 }],
        after: [{ token: 2, piece: text, prob: 0.7 }, { token: 1, piece: "old", prob: 0.2 }]
    };
}

test("tokens follow edits: before stays, after moves, touched is dropped", () => {
    const tokens = layOut(10, [view("foo"), view("("), view("bar"), view(")")]);  // foo 10-13, ( 13-14, bar 14-17, ) 17-18
    assert.deepEqual(tokens.map((t) => [t.start, t.end]), [[10, 13], [13, 14], [14, 17], [17, 18]]);
    const insertedBefore = applyChange(tokens, { offset: 0, deletedLength: 0, insertedLength: 5 });
    assert.deepEqual(insertedBefore.map((t) => t.start), [15, 18, 19, 22]);
    const typedInside = applyChange(tokens, { offset: 15, deletedLength: 0, insertedLength: 1 });
    assert.deepEqual(typedInside.map((t) => t.view.text), ["foo", "(", ")"]);
    assert.deepEqual(typedInside.map((t) => t.start), [10, 13, 18]);
    const atBoundary = applyChange(tokens, { offset: 13, deletedLength: 0, insertedLength: 2 });
    assert.deepEqual(atBoundary.map((t) => [t.start, t.end]), [[10, 13], [15, 16], [16, 19], [19, 20]]);
    const replaced = applyChange(tokens, { offset: 12, deletedLength: 3, insertedLength: 0 });
    assert.deepEqual(replaced.map((t) => [t.view.text, t.start]), [[")", 14]], "foo, ( and bar are all touched");
});

test("the store keeps written text over analysis, and follows edits", () => {
    const store = new DifficultyStore();
    let changes = 0;
    store.on("change", () => changes++);
    store.setAnalysis("file:///a.ts", layOut(0, [view("let"), view(" x"), view(" ="), view(" 1")]));
    store.addWritten("file:///a.ts", 2, [view("Z", 0.95, true)]);
    assert.equal(store.tokenAt("file:///a.ts", 2)?.origin, "written");
    assert.equal(store.tokenAt("file:///a.ts", 4)?.origin, "analysis");
    store.applyChanges("file:///a.ts", [{ offset: 0, deletedLength: 0, insertedLength: 3 }]);
    assert.equal(store.tokenAt("file:///a.ts", 5)?.token.view.text, "Z");
    assert.equal(store.tokenAt("file:///b.ts", 0), undefined);
    store.clearAnalysis("file:///a.ts");
    assert.equal(store.tokens("file:///a.ts", "analysis").length, 0);
    assert.equal(changes, 4);
});

test("hover text says how hard, whether it iterated and what changed, with model text escaped", () => {
    const markdown = hoverMarkdown(view("x`|y", 0.93, true), "written");
    assert.match(markdown, /P\(hard\) from the TaH decider: \*\*93%\*\*/);
    assert.match(markdown, /changed the choice from ` old ` to ``/);
    assert.match(markdown, /Written by the copilot/);
    assert.equal(codeSpan("a`b"), "`` a`b ``");
    assert.equal(codeSpan("a|b\n"), "` a\\|b\\n `");
    assert.match(hoverMarkdown({ ...view("y"), difficultyIsProxy: true }, "analysis"), /proxy/);
});

test("a TaH2 hover says how deep the token went and the decider's probability at each depth", () => {
    const markdown = hoverMarkdown({ ...view("z", 0.8, true), depth: 2, pContinue: [0.8, 0.6, 0.3] }, "written");
    assert.match(markdown, /Ran 3 depths \(deepest: 2\); the decider's continue probability at each: 80%, 60%, 30%/);
    assert.doesNotMatch(hoverMarkdown({ ...view("z", 0.8, true), depth: 1, pContinue: [0.8] }, "written"), /Ran \d depths/, "two depths read as v1 does");
});
