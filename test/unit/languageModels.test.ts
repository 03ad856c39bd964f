/** TaH models in VS Code's Chat: what the picker lists, the conversation the engine gets, and the streamed tool calls. */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import type { ModelSummary } from "../../src/engine/protocol/engineProtocol.js";
import { chatModelInformation, languageModelVendor } from "../../src/languageModels/chatModelInformation.js";
import { toEngineMessages, toolRequiredText } from "../../src/languageModels/requestMessages.js";
import { estimateMessageTokens, estimateTextTokens } from "../../src/languageModels/tokenEstimate.js";
import { type ResponsePiece, ToolCallStream } from "../../src/languageModels/ToolCallStream.js";

const summary: ModelSummary = {
    name: "tah-code-default", kind: "tah", path: "/models/tah-code-default", backend: "cpu", threads: 1, contextSize: 8192,
    threshold: 0.9, hasFim: true, hasChatTemplate: true, vocabularySize: 151_936
};

const weather = { name: "weather", description: "Weather of a city", inputSchema: { type: "object", properties: { city: { type: "string" } } } };

function counter(): () => string {
    let next = 0;
    return () => `call-${++next}`;
}

/** Feeds `chunks` one by one, then ends: every piece emitted, adjacent texts joined. */
function run(stream: ToolCallStream, chunks: readonly string[]): ResponsePiece[] {
    const pieces = [...chunks.flatMap((chunk) => stream.push(chunk)), ...stream.end()];
    return pieces.reduce<ResponsePiece[]>((joined, piece) => {
        const last = joined.at(-1);
        if (piece.kind === "text" && last?.kind === "text")
            return [...joined.slice(0, -1), { kind: "text", text: last.text + piece.text }];
        return [...joined, piece];
    }, []);
}

describe("language model information", () => {
    test("the loaded model with its context size split between prompt and answer", () => {
        const info = chatModelInformation(summary, 1024);
        assert.equal(info.id, summary.path);
        assert.equal(info.name, "TaH: tah-code-default");
        assert.equal(info.maxOutputTokens, 1024);
        assert.equal(info.maxInputTokens, 8192 - 1024);
        assert.deepEqual(info.capabilities, { toolCalling: true, imageInput: false });
    });

    test("the answer gets at most half a small context, as the engine reserves no more", () => {
        const info = chatModelInformation({ ...summary, contextSize: 1024 }, 4096);
        assert.equal(info.maxOutputTokens, 512);
        assert.equal(info.maxInputTokens, 512);
    });

    test("a model without a chat template offers no tool calling", () => {
        const info = chatModelInformation({ ...summary, kind: "plain", hasChatTemplate: false }, 1024);
        assert.equal(info.capabilities.toolCalling, false);
        assert.equal(info.family, "gguf");
    });

    test("package.json contributes the provider's vendor", () => {
        const manifest = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, "..", "..", "package.json"), "utf8")) as {
            contributes: { languageModelChatProviders?: { vendor: string; displayName: string }[] };
        };
        assert.deepEqual(manifest.contributes.languageModelChatProviders?.map((provider) => provider.vendor), [languageModelVendor]);
        assert.ok(manifest.contributes.languageModelChatProviders?.every((provider) => provider.displayName.length > 0));
    });
});

describe("request messages", () => {
    test("system messages and tools become one system message, as Qwen3's template writes it", () => {
        const messages = toEngineMessages([
            { role: "system", parts: [{ kind: "text", text: "Be brief." }] },
            { role: "user", parts: [{ kind: "text", text: "Weather in " }, { kind: "text", text: "Paris?" }] }
        ], [weather], false);
        assert.equal(messages.length, 2);
        assert.equal(messages[0].role, "system");
        assert.ok(messages[0].content.startsWith("Be brief.\n\n# Tools\n\n"));
        assert.ok(messages[0].content.includes("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"weather\", \"description\": \"Weather of a city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}\n</tools>"));
        assert.ok(!messages[0].content.includes(toolRequiredText));
        assert.deepEqual(messages[1], { role: "user", content: "Weather in Paris?" });
    });

    test("a required tool call is asked for in the system message", () => {
        const [system] = toEngineMessages([{ role: "user", parts: [{ kind: "text", text: "hi" }] }], [weather], true);
        assert.ok(system.content.endsWith(`</tool_call>\n\n${toolRequiredText}`));
    });

    test("a tool call and its result round-trip as <tool_call> and <tool_response> turns", () => {
        const messages = toEngineMessages([
            { role: "user", parts: [{ kind: "text", text: "Weather in Paris?" }] },
            { role: "assistant", parts: [{ kind: "text", text: "Looking." }, { kind: "toolCall", callId: "c1", name: "weather", input: { city: "Paris" } }] },
            { role: "user", parts: [{ kind: "toolResult", callId: "c1", content: "sunny" }, { kind: "toolResult", callId: "c2", content: "22 C" }, { kind: "text", text: "And?" }] }
        ], [], false);
        assert.deepEqual(messages, [
            { role: "user", content: "Weather in Paris?" },
            { role: "assistant", content: "Looking.\n<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>" },
            { role: "user", content: "<tool_response>\nsunny\n</tool_response>\n<tool_response>\n22 C\n</tool_response>\nAnd?" }
        ]);
    });

    test("without tools or system messages nothing is added", () => {
        assert.deepEqual(toEngineMessages([{ role: "user", parts: [{ kind: "text", text: "hi" }] }], [], false), [{ role: "user", content: "hi" }]);
    });
});

describe("streamed tool calls", () => {
    const call = "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";

    test("a call split over many tokens becomes one call part with its id, the text around it stays", () => {
        const text = `Checking.\n${call}\nDone.`;
        const chunks = Array.from(text);
        const pieces = run(new ToolCallStream(new Set(["weather"]), counter()), chunks);
        assert.deepEqual(pieces, [
            { kind: "text", text: "Checking.\n" },
            { kind: "toolCall", callId: "call-1", name: "weather", input: { city: "Paris" } },
            { kind: "text", text: "\nDone." }
        ]);
    });

    test("two calls in a row, one character at a time: each block's end is found though it is searched for only once", () => {
        const pieces = run(new ToolCallStream(new Set(["weather"]), counter()), Array.from(`${call}${call.replace("Paris", "Oslo")}`));
        assert.deepEqual(pieces, [
            { kind: "toolCall", callId: "call-1", name: "weather", input: { city: "Paris" } },
            { kind: "toolCall", callId: "call-2", name: "weather", input: { city: "Oslo" } }
        ]);
    });

    test("text streams as it arrives; only what may begin a call is held back", () => {
        const stream = new ToolCallStream(new Set(["weather"]), counter());
        assert.deepEqual(stream.push("a < b "), [{ kind: "text", text: "a < b " }]);
        assert.deepEqual(stream.push("<tool"), []);
        assert.deepEqual(stream.push("s>"), [{ kind: "text", text: "<tools>" }]);
        assert.equal(stream.calledTool, false);
    });

    test("two calls get two ids", () => {
        const pieces = run(new ToolCallStream(new Set(["weather"]), counter()), [call, call]);
        assert.deepEqual(pieces.map((piece) => piece.kind === "toolCall" ? piece.callId : piece.text), ["call-1", "call-2"]);
    });

    test("a call of a tool not offered, malformed JSON, non-object arguments or no tools at all stay text", () => {
        const cases: Array<[ReadonlySet<string>, string]> = [
            [new Set(["other"]), call],
            [new Set(["weather"]), "<tool_call>{\"name\": \"weather\", </tool_call>"],
            [new Set(["weather"]), "<tool_call>{\"name\": \"weather\", \"arguments\": [1]}</tool_call>"],
            [new Set(), call]
        ];
        for (const [tools, text] of cases) {
            const stream = new ToolCallStream(tools, counter());
            assert.deepEqual(run(stream, [text]), [{ kind: "text", text }], text);
            assert.equal(stream.calledTool, false);
        }
    });

    test("an open block that can no longer become a call of an offered tool streams as text at once, not at the end", () => {
        const released = (pieces: ReturnType<ToolCallStream["push"]>): string => pieces.map((piece) => piece.kind === "text" ? piece.text : "<call>").join("");
        for (const text of ["<tool_call>\nHello, here is the answer", "<tool_call>{\"name\": \"other\"", "<tool_call>{\"name\": 12", "<tool_call>{x"]) {
            const stream = new ToolCallStream(new Set(["weather"]), counter());
            assert.equal(released(stream.push(text)), text, text);
            assert.deepEqual(stream.end(), [], "nothing was held back");
        }
        // while it may still be a call it is held: a name on its way to an offered one, or another key first
        for (const text of ["<tool_call>", "<tool_call>\n{", "<tool_call>{\"na", "<tool_call>{\"name\": \"wea", "<tool_call>{\"name\": \"weather\", \"argu", "<tool_call>{\"arguments\": {}"]) {
            const stream = new ToolCallStream(new Set(["weather"]), counter());
            assert.deepEqual(stream.push(text), [], text);
        }
        // text after a released block is searched for calls again
        const stream = new ToolCallStream(new Set(["weather"]), counter());
        assert.deepEqual(run(stream, Array.from(`<tool_call> oops ${call}`)), [
            { kind: "text", text: "<tool_call> oops " },
            { kind: "toolCall", callId: "call-1", name: "weather", input: { city: "Paris" } }
        ]);
    });

    test("an unclosed call at the end is text", () => {
        const text = "<tool_call>\n{\"name\": \"weather\"";
        assert.deepEqual(run(new ToolCallStream(new Set(["weather"]), counter()), [text]), [{ kind: "text", text }]);
    });
});

describe("token count estimate", () => {
    test("errs high against Qwen3's few characters a token, and counts a message's parts and framing", () => {
        assert.equal(estimateTextTokens(""), 0);
        assert.equal(estimateTextTokens("abcdefg"), 3);
        assert.equal(estimateMessageTokens({ role: "user", parts: [{ kind: "text", text: "abc" }, { kind: "toolResult", callId: "c", content: "def" }] }), 5 + 2);
    });
});
