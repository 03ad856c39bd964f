// The one table from engine error codes to what the user reads: every code has words and sensible actions.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EngineError, engineErrorCodes } from "../../src/engine/protocol/EngineError.js";
import { describeEngineError, errorActionLabels, errorSentence } from "../../src/engineHost/errorMessages.js";
import { statusText } from "../../src/ui/statusText.js";
import { describeError } from "../../src/chat/engineText.js";

describe("the error table", () => {
    for (const code of engineErrorCodes) {
        test(`${code}: a message that says why, a hint that says what to do, an entry in the status bar`, () => {
            const description = describeEngineError(new EngineError(code, `detail of ${code}`));
            assert.equal(description.code, code);
            assert.ok(description.text.length > 0 && description.hint.length > 0 && description.status.length > 0);
            assert.notEqual(description.text, description.hint);
            for (const action of description.actions)
                assert.ok(action in errorActionLabels, action);
            if (description.actions.includes("openSettings"))
                assert.match(description.setting ?? "", /^tah/);
            const failed = statusText({ kind: "failed", error: new EngineError(code, "x") }, undefined, true, true);
            assert.equal(failed.text, `$(error) TaH: ${description.status}`);
        });
    }

    test("the words come from the code, never from the message or the class", () => {
        const lookalike = describeEngineError(new Error("the KV cache is full"));
        assert.equal(lookalike.code, "internal");
        const foreign = describeEngineError(Object.assign(new Error("no such file"), { code: "modelFile" }));
        assert.equal(foreign.code, "modelFile");
        assert.match(foreign.text, /no such file/);
        assert.equal(describeEngineError(Object.assign(new Error("x"), { name: "AbortError" })).code, "aborted");
    });

    test("the engine cannot start: why, and what to do, with no action that would only fail again", () => {
        for (const code of ["nativeBuild", "unsupportedCpu"] as const)
            assert.deepEqual(describeEngineError(new EngineError(code, "x")).actions, ["showLogs"]);
        assert.ok(describeEngineError(new EngineError("gpuUnavailable", "no Vulkan device")).actions.includes("useCpu"));
    });

    test("the chat's error view is the table's", () => {
        const error = new EngineError("contextFull", "too long");
        const description = describeEngineError(error);
        assert.deepEqual(describeError(error), { code: "contextFull", text: description.text, hint: description.hint });
        assert.equal(describeError(new EngineError("modelFile", "x")).action, "pickModel");
    });

    test("a message reads as sentences whether or not the engine's detail ends in a full stop", () => {
        assert.equal(errorSentence({ text: "The model could not be read: no file", hint: "Pick another." }), "The model could not be read: no file. Pick another.");
        assert.equal(errorSentence({ text: "No model is loaded.", hint: "Pick one." }), "No model is loaded. Pick one.");
    });
});
