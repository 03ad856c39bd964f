import assert from "node:assert/strict";
import { test } from "node:test";
import { splitThinking } from "../../src/chat/thinking.js";

test("an answer without reasoning is all answer", () => {
    assert.deepEqual(splitThinking("Use a `Map`."), { thinking: undefined, thinkingDone: true, answerStart: 0, answer: "Use a `Map`." });
    assert.deepEqual(splitThinking(""), { thinking: undefined, thinkingDone: true, answerStart: 0, answer: "" });
});

test("a closed think block is the reasoning; the answer starts after it and its blank lines", () => {
    const text = "<think>\nThe user wants a loop.\n</think>\n\nHere it is.";
    const split = splitThinking(text);
    assert.equal(split.thinking, "The user wants a loop.");
    assert.equal(split.thinkingDone, true);
    assert.equal(split.answer, "Here it is.");
    assert.equal(text.slice(split.answerStart), split.answer);
});

test("reasoning still being written has no answer yet", () => {
    const text = "<think>\nFirst, the types";
    assert.deepEqual(splitThinking(text), { thinking: "First, the types", thinkingDone: false, answerStart: text.length, answer: "" });
});

test("the empty think block of a non-thinking prompt leaves an empty reasoning", () => {
    const split = splitThinking("<think>\n\n</think>\n\nDone.");
    assert.equal(split.thinking, "");
    assert.equal(split.answer, "Done.");
});

test("a closing tag without an opening one ends reasoning that began in the prompt", () => {
    const split = splitThinking("the prompt opened it\n</think>\nAnswer");
    assert.equal(split.thinking, "the prompt opened it");
    assert.equal(split.answer, "Answer");
});

test("think tags later in the answer are answer text", () => {
    const text = "Qwen3 writes `<think>` first.\n<think>not reasoning";
    assert.deepEqual(splitThinking(text), { thinking: undefined, thinkingDone: true, answerStart: 0, answer: text });
});
