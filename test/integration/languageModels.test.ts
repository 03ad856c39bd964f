// Runs inside the extension host (see test/e2e/extensionTests.ts): the TaH model in VS Code's language model API.
// Listing and a streamed answer go through vscode.lm to the extension's provider and the bundled model; the tool-call
// round trip drives the provider class against a scripted engine (the tiny bundled model never writes a tool call),
// with VS Code's own message and part classes.
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import { EngineError } from "../../src/engine/protocol/EngineError.js";
import type { ChatParams, ChatResult, ModelSummary, TokenView } from "../../src/engine/protocol/engineProtocol.js";
import type { EngineState } from "../../src/engineHost/EngineController.js";
import { describeEngineError, errorSentence } from "../../src/engineHost/errorMessages.js";
import type { TahExtensionApi } from "../../src/extension.js";
import { chatModelInformation } from "../../src/languageModels/chatModelInformation.js";
import { type LanguageModelEngine, TahChatModelProvider } from "../../src/languageModels/TahChatModelProvider.js";

const extensionId = "tah-copilot.tah-copilot";

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe();
        if (value !== undefined)
            return value;
        if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

async function tahModel(): Promise<vscode.LanguageModelChat> {
    const api = await vscode.extensions.getExtension<TahExtensionApi>(extensionId)!.activate();
    await api.engine.ensureLoaded();
    return waitFor(async () => (await vscode.lm.selectChatModels({ vendor: "tah" }))[0], "the TaH model in vscode.lm", 60_000);
}

const model: ModelSummary = {
    name: "scripted", kind: "tah", path: "/models/scripted", backend: "cpu", threads: 1, contextSize: 4096,
    threshold: 0.9, hasFim: false, hasChatTemplate: true, vocabularySize: 100
};

function view(text: string): TokenView {
    return { token: 0, piece: text, text, difficulty: 0, difficultyIsProxy: false, iterated: false, changed: false, before: [], after: [] };
}

/** An engine that answers each request with the next scripted answer, a few characters a token. */
class ScriptedEngine implements LanguageModelEngine {
    private readonly emitter = new vscode.EventEmitter<EngineState>();
    readonly onDidChangeState = this.emitter.event;
    state: EngineState = { kind: "ready", model, completionModel: model };
    readonly requests: Array<Omit<ChatParams, "stream">> = [];
    readonly signals: AbortSignal[] = [];
    failWith: Error | undefined;
    /** Called before each token; a test cancels from here. */
    beforeToken: () => void = () => undefined;

    constructor(readonly answers: string[]) {}

    async chat(params: Omit<ChatParams, "stream">, options: { signal: AbortSignal; onToken: (token: TokenView) => void }): Promise<ChatResult> {
        this.requests.push(params);
        this.signals.push(options.signal);
        if (this.failWith !== undefined)
            throw this.failWith;
        const answer = this.answers.shift() ?? "";
        for (const piece of answer.match(/[\s\S]{1,3}/g) ?? []) {
            this.beforeToken();
            await new Promise((resolve) => setTimeout(resolve, 1));
            if (options.signal.aborted)
                throw new EngineError("aborted", "the request was cancelled");
            options.onToken(view(piece));
        }
        const stats = { generatedTokens: answer.length, iteratedTokens: 0, tokensPerSecond: 50 };
        return { text: answer, stopReason: "stopToken", promptTokens: 10, reusedTokens: 0, droppedMessages: 0, generatedTokens: answer.length, iteratedTokens: 0, tokensPerSecond: 50, stats };
    }

    tokenCount(text: string): Promise<number> {
        return Promise.resolve(text.length);
    }

    setState(state: EngineState): void {
        this.state = state;
        this.emitter.fire(state);
    }

    dispose(): void {
        this.emitter.dispose();
    }
}

const chatSettings = () => ({ maxTokens: 256, enableThinking: false, systemPrompt: "" });

const weatherTool: vscode.LanguageModelChatTool = {
    name: "weather", description: "The weather of a city", inputSchema: { type: "object", properties: { city: { type: "string" } } }
};

async function respond(provider: TahChatModelProvider, messages: vscode.LanguageModelChatRequestMessage[],
    options: vscode.ProvideLanguageModelChatResponseOptions, token = new vscode.CancellationTokenSource().token): Promise<vscode.LanguageModelResponsePart[]> {
    const parts: vscode.LanguageModelResponsePart[] = [];
    await provider.provideLanguageModelChatResponse(chatModelInformation(model, 256), messages, options, { report: (part) => parts.push(part) }, token);
    return parts;
}

suite("language models", () => {
    test("the loaded TaH model is listed by vscode.lm with its context size", async () => {
        const chat = await tahModel();
        const state = vscode.extensions.getExtension<TahExtensionApi>(extensionId)!.exports.engine.state;
        assert.ok(state.kind === "ready");
        const expected = chatModelInformation(state.model, 1024);
        assert.equal(chat.vendor, "tah");
        assert.equal(chat.id, state.model.path);
        assert.equal(chat.name, `TaH: ${state.model.name}`);
        assert.equal(chat.maxInputTokens, expected.maxInputTokens);
        assert.equal(expected.maxInputTokens + expected.maxOutputTokens, state.model.contextSize);
    });

    test("the listing follows the loaded model: none while a model fails to load", async () => {
        await tahModel();
        const config = vscode.workspace.getConfiguration("tah");
        await config.update("modelPath", "/models/missing.gguf", vscode.ConfigurationTarget.Global);
        try {
            await waitFor(async () => (await vscode.lm.selectChatModels({ vendor: "tah" })).length === 0 ? true : undefined, "no TaH model listed", 60_000);
        } finally {
            await config.update("modelPath", undefined, vscode.ConfigurationTarget.Global);
        }
        await tahModel();
    });

    test("the provider tells VS Code when the loaded model comes, goes or changes, and only then", () => {
        const engine = new ScriptedEngine([]);
        const provider = new TahChatModelProvider(engine, chatSettings);
        let changes = 0;
        const listener = provider.onDidChangeLanguageModelChatInformation(() => changes++);
        const listed = (): string[] => provider.provideLanguageModelChatInformation().map((info) => info.id);
        try {
            const other = { ...model, path: "/models/other", name: "other" };
            const steps: Array<[EngineState, number, string[]]> = [
                [{ kind: "loading", fraction: 0 }, 1, []],
                [{ kind: "loading", fraction: 0.5 }, 1, []],
                [{ kind: "failed", error: new EngineError("modelFile", "missing") }, 1, []],
                [{ kind: "ready", model, completionModel: model }, 2, [model.path]],
                [{ kind: "ready", model, completionModel: model }, 2, [model.path]],
                [{ kind: "ready", model: other, completionModel: other }, 3, [other.path]],
                [{ kind: "idle" }, 4, []]
            ];
            for (const [state, expectedChanges, expectedListing] of steps) {
                engine.setState(state);
                assert.equal(changes, expectedChanges, state.kind);
                assert.deepEqual(listed(), expectedListing, state.kind);
            }
        } finally {
            listener.dispose();
            provider.dispose();
            engine.dispose();
        }
    });

    test("sendRequest streams the bundled model's answer", async () => {
        const chat = await tahModel();
        const config = vscode.workspace.getConfiguration("tah");
        await config.update("chat.maxTokens", 16, vscode.ConfigurationTarget.Global);
        try {
            const response = await chat.sendRequest([vscode.LanguageModelChatMessage.User("Write a function that adds two numbers.")], {}, new vscode.CancellationTokenSource().token);
            const chunks: string[] = [];
            for await (const part of response.stream)
                if (part instanceof vscode.LanguageModelTextPart)
                    chunks.push(part.value);
            assert.ok(chunks.length > 1, `streamed in ${chunks.length} part(s)`);
            assert.ok(chunks.join("").trim().length > 0);
            // the model's own tokenizer, not the character estimate the provider falls back on
            const text = "four words of text";
            const api = vscode.extensions.getExtension<TahExtensionApi>(extensionId)!.exports;
            assert.equal(await chat.countTokens(text), await api.engine.tokenCount(text));
        } finally {
            await config.update("chat.maxTokens", undefined, vscode.ConfigurationTarget.Global);
        }
    });

    test("a tool call round-trips: parsed into a call part, its result fed back as a <tool_response>", async () => {
        const engine = new ScriptedEngine([
            "Let me check.\n<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
            "It is sunny in Paris."
        ]);
        const provider = new TahChatModelProvider(engine, chatSettings);
        try {
            const question = vscode.LanguageModelChatMessage.User("What is the weather in Paris?");
            const first = await respond(provider, [question], { tools: [weatherTool], toolMode: vscode.LanguageModelChatToolMode.Auto });
            const calls = first.filter((part) => part instanceof vscode.LanguageModelToolCallPart);
            assert.equal(calls.length, 1);
            const [call] = calls;
            assert.equal(call.name, "weather");
            assert.deepEqual(call.input, { city: "Paris" });
            assert.ok(call.callId.length > 0);
            assert.equal(first.filter((part) => part instanceof vscode.LanguageModelTextPart).map((part) => part.value).join(""), "Let me check.\n");
            assert.match(engine.requests[0]?.messages[0]?.content ?? "", /^# Tools\n[\s\S]*"name": "weather"/);

            const second = await respond(provider, [
                question,
                vscode.LanguageModelChatMessage.Assistant([new vscode.LanguageModelTextPart("Let me check."), call]),
                vscode.LanguageModelChatMessage.User([new vscode.LanguageModelToolResultPart(call.callId, [new vscode.LanguageModelTextPart("sunny, 22 C")])])
            ], { tools: [weatherTool], toolMode: vscode.LanguageModelChatToolMode.Auto });
            assert.equal(second.map((part) => part instanceof vscode.LanguageModelTextPart ? part.value : "?").join(""), "It is sunny in Paris.");
            assert.deepEqual(engine.requests[1]?.messages.slice(1), [
                { role: "user", content: "What is the weather in Paris?" },
                { role: "assistant", content: "Let me check.\n<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>" },
                { role: "user", content: "<tool_response>\nsunny, 22 C\n</tool_response>" }
            ]);
        } finally {
            provider.dispose();
            engine.dispose();
        }
    });

    test("cancelling the request aborts the engine's generation", async () => {
        const engine = new ScriptedEngine(["a long answer that is cancelled before it ends"]);
        const provider = new TahChatModelProvider(engine, chatSettings);
        const source = new vscode.CancellationTokenSource();
        let tokens = 0;
        engine.beforeToken = () => {
            if (++tokens === 3)
                source.cancel();
        };
        try {
            await assert.rejects(respond(provider, [vscode.LanguageModelChatMessage.User("hi")], { toolMode: vscode.LanguageModelChatToolMode.Auto }, source.token),
                (error: unknown) => error instanceof vscode.CancellationError);
            assert.equal(engine.signals[0]?.aborted, true);
        } finally {
            provider.dispose();
            engine.dispose();
        }
    });

    test("a required tool call that the model does not make is an error", async () => {
        const engine = new ScriptedEngine(["No tools needed."]);
        const provider = new TahChatModelProvider(engine, chatSettings);
        try {
            await assert.rejects(respond(provider, [vscode.LanguageModelChatMessage.User("hi")], { tools: [weatherTool], toolMode: vscode.LanguageModelChatToolMode.Required }),
                /without calling one of the tools/);
        } finally {
            provider.dispose();
            engine.dispose();
        }
    });

    test("an engine error becomes the error table's message; a model being reloaded answers, one replaced by another is NotFound", async () => {
        const engine = new ScriptedEngine([]);
        const provider = new TahChatModelProvider(engine, chatSettings);
        const question = [vscode.LanguageModelChatMessage.User("hi")];
        try {
            engine.failWith = new EngineError("contextFull", "4100 tokens > 4096");
            await assert.rejects(respond(provider, question, { toolMode: vscode.LanguageModelChatToolMode.Auto }),
                (error: unknown) => error instanceof Error && error.message.startsWith(`TaH Copilot: ${errorSentence(describeEngineError(engine.failWith))}`));
            engine.failWith = undefined;
            engine.setState({ kind: "crashed", error: new EngineError("crashed", "signal SIGKILL") });
            engine.answers.push("back");
            const answer = await respond(provider, question, { toolMode: vscode.LanguageModelChatToolMode.Auto });
            assert.deepEqual(answer.map((part) => part instanceof vscode.LanguageModelTextPart ? part.value : "?"), ["bac", "k"], "a model being loaded again still answers");
            assert.equal(engine.requests.at(-1)?.maxTokens, 256);
            engine.setState({ kind: "ready", model: { ...model, path: "/models/other" }, completionModel: model });
            await assert.rejects(respond(provider, question, { toolMode: vscode.LanguageModelChatToolMode.Auto }),
                (error: unknown) => error instanceof vscode.LanguageModelError && error.code === vscode.LanguageModelError.NotFound().code);
        } finally {
            provider.dispose();
            engine.dispose();
        }
    });
});
