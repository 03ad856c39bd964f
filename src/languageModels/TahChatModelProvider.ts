// The loaded TaH model in VS Code's own Chat (the model picker, agent mode, vscode.lm): the VS Code side only. What
// the picker shows, the conversation and the tool calls are the pure modules beside this one.
import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import type { ChatEngine } from "../chat/ChatSession.js";
import { engineErrorCodeOf } from "../engine/protocol/EngineError.js";
import type { ModelSummary } from "../engine/protocol/engineProtocol.js";
import type { EngineState } from "../engineHost/EngineController.js";
import { describeEngineError, errorSentence } from "../engineHost/errorMessages.js";
import type { ChatSettings } from "../settings/settings.js";
import { chatModelInformation, type ChatModelInformation } from "./chatModelInformation.js";
import { type RequestMessage, type RequestPart, toEngineMessages } from "./requestMessages.js";
import { estimateTextTokens, messageText, tokensPerMessage } from "./tokenEstimate.js";
import { TokenCountCache } from "./TokenCountCache.js";
import { ToolCallStream } from "./ToolCallStream.js";

/** Counts kept for VS Code's repeated asks: a long agent-mode history with every tool, many times over. */
const tokenCountsKept = 4096;

function readyModel(state: EngineState): ModelSummary | undefined {
    return state.kind === "ready" ? state.model : undefined;
}

/** A tool result's text: its text parts (the engine reads no data or prompt-tsx parts). */
function toolResultText(content: readonly unknown[]): string {
    return content.flatMap((part) => part instanceof vscode.LanguageModelTextPart ? [part.value] : []).join("");
}

function requestPart(part: unknown): RequestPart[] {
    if (part instanceof vscode.LanguageModelTextPart)
        return [{ kind: "text", text: part.value }];
    if (part instanceof vscode.LanguageModelToolCallPart)
        return [{ kind: "toolCall", callId: part.callId, name: part.name, input: part.input }];
    if (part instanceof vscode.LanguageModelToolResultPart)
        return [{ kind: "toolResult", callId: part.callId, content: toolResultText(part.content) }];
    return [];
}

/** VS Code's messages as plain ones; a role outside the public enum is the system message VS Code's Chat sends. */
export function requestMessage(message: vscode.LanguageModelChatRequestMessage): RequestMessage {
    const role = message.role === vscode.LanguageModelChatMessageRole.User ? "user"
        : message.role === vscode.LanguageModelChatMessageRole.Assistant ? "assistant" : "system";
    return { role, parts: message.content.flatMap(requestPart) };
}

/** The engine as the provider needs it: chat, and the loaded model's tokenizer for VS Code's prompt budgeting. */
export interface LanguageModelEngine extends ChatEngine {
    tokenCount(text: string): Promise<number>;
}

export class TahChatModelProvider implements vscode.LanguageModelChatProvider<ChatModelInformation>, vscode.Disposable {
    private readonly changeEmitter = new vscode.EventEmitter<void>();
    readonly onDidChangeLanguageModelChatInformation = this.changeEmitter.event;
    private listed: string | undefined;
    private readonly subscription: vscode.Disposable;
    private readonly tokenCounts = new TokenCountCache(tokenCountsKept);

    constructor(private readonly engine: LanguageModelEngine, private readonly settings: () => ChatSettings) {
        this.listed = readyModel(engine.state)?.path;
        this.subscription = engine.onDidChangeState((state) => {
            // loading, failing and crashing all mean "not listed" until a model is ready again
            const path = readyModel(state)?.path;
            if (path !== this.listed && (state.kind === "ready" || this.listed !== undefined)) {
                this.listed = path;
                this.changeEmitter.fire();
            }
        });
    }

    provideLanguageModelChatInformation(): ChatModelInformation[] {
        const model = readyModel(this.engine.state);
        return model === undefined ? [] : [chatModelInformation(model, this.settings().maxTokens)];
    }

    async provideLanguageModelChatResponse(model: ChatModelInformation, messages: readonly vscode.LanguageModelChatRequestMessage[],
        options: vscode.ProvideLanguageModelChatResponseOptions, progress: vscode.Progress<vscode.LanguageModelResponsePart>, token: vscode.CancellationToken): Promise<void> {
        // while the model is (re)loading the engine waits for it; only another model in its place makes this one gone
        const loaded = readyModel(this.engine.state);
        if (loaded !== undefined && loaded.path !== model.id)
            throw vscode.LanguageModelError.NotFound(`TaH Copilot: ${model.name} is no longer loaded; pick the loaded model.`);
        const tools = options.tools ?? [];
        const required = tools.length > 0 && options.toolMode === vscode.LanguageModelChatToolMode.Required;
        const stream = new ToolCallStream(new Set(tools.map((tool) => tool.name)), randomUUID);
        const report = (pieces: ReturnType<ToolCallStream["push"]>): void => {
            for (const piece of pieces)
                progress.report(piece.kind === "text" ? new vscode.LanguageModelTextPart(piece.text) : new vscode.LanguageModelToolCallPart(piece.callId, piece.name, piece.input));
        };
        const abort = new AbortController();
        const cancelled = token.onCancellationRequested(() => abort.abort());
        try {
            await this.engine.chat({
                messages: toEngineMessages(messages.map(requestMessage), tools, required),
                maxTokens: model.maxOutputTokens,
                // VS Code's public API has no part for reasoning, so the model answers without it
                enableThinking: false
            }, { signal: abort.signal, onToken: (piece) => report(stream.push(piece.text)) });
            report(stream.end());
        } catch (error) {
            if (token.isCancellationRequested || engineErrorCodeOf(error) === "aborted")
                throw new vscode.CancellationError();
            throw new Error(`TaH Copilot: ${errorSentence(describeEngineError(error))}`, { cause: error });
        } finally {
            cancelled.dispose();
        }
        if (required && !stream.calledTool)
            throw new Error("TaH Copilot: the model answered without calling one of the tools, which this request requires.");
    }

    async provideTokenCount(_model: ChatModelInformation, text: string | vscode.LanguageModelChatRequestMessage): Promise<number> {
        const [content, overhead] = typeof text === "string" ? [text, 0] : [messageText(requestMessage(text)), tokensPerMessage];
        // only a ready engine is asked: a count must never start or wait on a model load
        if (this.engine.state.kind !== "ready")
            return overhead + estimateTextTokens(content);
        const model = this.engine.state.model.path;
        try {
            return overhead + await this.tokenCounts.count(model, content, () => this.engine.tokenCount(content));
        } catch {
            // VS Code needs a number even while the engine cannot answer: budget with the high estimate then
            return overhead + estimateTextTokens(content);
        }
    }

    dispose(): void {
        this.subscription.dispose();
        this.changeEmitter.dispose();
    }
}
