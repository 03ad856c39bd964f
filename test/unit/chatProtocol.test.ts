import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { maxCodeChars, maxUserTextChars } from "../../src/chat/chatLimits.js";
import { describeError, describeState } from "../../src/chat/engineText.js";
import { parseWebviewMessage } from "../../src/chat/protocol.js";

describe("chat webview messages", () => {
    test("valid messages pass, with their fields", () => {
        const valid: unknown[] = [
            { type: "ready" },
            { type: "send", text: "Why does this loop never end?", attach: true },
            { type: "stop" },
            { type: "newChat" },
            { type: "copy", code: "const x = 1;" },
            { type: "insert", messageId: "3f2a", code: "x()", line: 4 },
            { type: "pickModel" },
        ];
        for (const raw of valid) {
            const parsed = parseWebviewMessage(raw);
            assert.ok(parsed.ok, JSON.stringify(raw));
            assert.deepEqual(parsed.message, raw);
        }
    });

    test("unknown fields are dropped, not passed on", () => {
        const parsed = parseWebviewMessage({ type: "stop", command: "workbench.action.terminal.new", __proto__: { polluted: true } });
        assert.ok(parsed.ok);
        assert.deepEqual(Object.keys(parsed.message), ["type"]);
    });

    test("malformed and hostile messages are refused with a generic note", () => {
        const invalid: unknown[] = [
            null, undefined, "ready", 42, [], {},
            { type: "execute", command: "rm -rf /" },
            { type: "send" },
            { type: "send", text: "", attach: false },
            { type: "send", text: 42, attach: false },
            { type: "send", text: "hi", attach: "yes" },
            { type: "insert", messageId: "a", code: "x", line: -1 },
            { type: "insert", messageId: "a", code: "x", line: 1.5 },
            { type: "insert", messageId: "", code: "x", line: 0 },
            { type: "insert", messageId: "x".repeat(65), code: "x", line: 0 },
            { type: "copy", code: { toString: "evil" } },
        ];
        for (const raw of invalid) {
            const parsed = parseWebviewMessage(raw);
            assert.equal(parsed.ok, false, JSON.stringify(raw));
            if (!parsed.ok) {
                assert.match(parsed.note, /does not accept/);
                assert.ok(parsed.detail.length > 0);
            }
        }
    });

    test("an oversized message is refused with a note that says why, not sent on", () => {
        const huge = "x".repeat(4 * 1024 * 1024);
        const send = parseWebviewMessage({ type: "send", text: huge, attach: false });
        assert.equal(send.ok, false);
        if (!send.ok)
            assert.match(send.note, /4,194,304 characters, the limit is 32,000/);
        const atLimit = parseWebviewMessage({ type: "send", text: "y".repeat(maxUserTextChars), attach: false });
        assert.ok(atLimit.ok);
        const insert = parseWebviewMessage({ type: "insert", messageId: "a", code: "z".repeat(maxCodeChars + 1), line: 0 });
        assert.equal(insert.ok, false);
        if (!insert.ok)
            assert.match(insert.note, /more than the 200,000 that can be copied or inserted/);
    });
});

describe("engine state and errors in the chat", () => {
    test("errors come with a hint; no model offers to pick one", () => {
        const noModel = describeError(Object.assign(new Error("no model is selected"), { code: "noModel" }));
        assert.equal(noModel.action, "pickModel");
        assert.match(noModel.hint, /Pick a model/);
        const crashed = describeError(Object.assign(new Error("the engine process stopped (SIGKILL)"), { code: "crashed" }));
        assert.match(crashed.hint, /restarted/);
        assert.equal(crashed.action, undefined);
        assert.match(describeError(Object.assign(new Error("too long"), { code: "contextFull" })).hint, /new chat/);
        const unknown = describeError(new Error("boom"));
        assert.equal(unknown.code, "internal");
        assert.match(unknown.text, /boom/);
    });

    test("the state line says whether a model is ready", () => {
        assert.deepEqual(describeState({ kind: "idle" }, false), { connected: false, text: "No model selected.", canPickModel: true });
        assert.equal(describeState({ kind: "loading", fraction: 0.426 }, true).text, "Loading the model… 43%");
        const model = {
            name: "tah-0.6b", kind: "tah", path: "/m", backend: "cpu", threads: 2, contextSize: 8192, threshold: null,
            hasFim: false, hasChatTemplate: true, vocabularySize: 151_936,
        } as const;
        const ready = describeState({ kind: "ready", model, completionModel: model }, true);
        assert.equal(ready.connected, true);
        assert.equal(ready.text, "tah-0.6b (TaH, cpu)");
    });
});
