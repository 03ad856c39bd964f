/** A scripted engine for the serve tests: answers with given text pieces, records what it was asked, sees aborts. */
import { EngineError } from "../../src/engine/protocol/EngineError.js";
import type {
    AnalyzeParams, AnalyzeResult, ChatParams, ChatResult, CompletionParams, CompletionResult, ModelSummary, StatusResult, TokenCountParams, TokenCountResult, TokenView
} from "../../src/engine/protocol/engineProtocol.js";
import type { ServeEngine } from "../../src/server/requestContext.js";

export interface StubCall {
    kind: "chat" | "complete" | "analyze";
    params: ChatParams | CompletionParams | AnalyzeParams;
    /** Whether the call ended because its signal aborted. */
    aborted: boolean;
}

/** A token of the stub's answers: every other one iterated, with a P(hard) above or below the threshold to match. */
export function stubToken(index: number, text: string): TokenView {
    const iterated = index % 2 === 0;
    return { token: 1000 + index, piece: text, text, difficulty: iterated ? 0.9 : 0.1, difficultyIsProxy: false, iterated, changed: false, before: [], after: [] };
}

export class StubEngine implements ServeEngine {
    readonly calls: StubCall[] = [];
    /** The pieces of the next answers; a function sees the call's parameters. */
    answer: (params: ChatParams | CompletionParams) => string[] = () => ["Hello", " world"];
    /** When set, every call waits for it before answering (to hold the queue). */
    gate: Promise<void> | undefined;
    /** When set, calls stream pieces without end until aborted. */
    endless = false;
    /** Thrown by the next calls instead of answering. */
    failure: Error | undefined;
    private started: Array<() => void> = [];
    private abortSeen: Array<() => void> = [];

    /** Back to a fresh stub's behaviour, between tests. */
    reset(): void {
        this.answer = () => ["Hello", " world"];
        this.gate = undefined;
        this.endless = false;
        this.failure = undefined;
        this.calls.length = 0;
    }

    /** Resolves when a call has started (the count of calls made so far reaches n). */
    callStarted(n: number): Promise<void> {
        return this.calls.length >= n ? Promise.resolve() : new Promise((resolve) => this.started.push(() => { if (this.calls.length >= n) resolve(); }));
    }

    /** Resolves when a call ends by its signal's abort. */
    abortObserved(): Promise<void> {
        return this.calls.some((call) => call.aborted) ? Promise.resolve() : new Promise((resolve) => this.abortSeen.push(resolve));
    }

    status(): StatusResult {
        const model: ModelSummary = { name: "stub", kind: "tah", path: "/stub", backend: "cpu", threads: 1, contextSize: 512, threshold: 0.5, hasFim: true, hasChatTemplate: true, vocabularySize: 2000 };
        return {
            models: { chat: model, completion: model },
            stats: { generatedTokens: 0, iteratedTokens: 0, tokensPerSecond: null }
        };
    }

    private async run(kind: StubCall["kind"], params: ChatParams | CompletionParams, onToken: (token: TokenView) => void, signal: AbortSignal): Promise<number> {
        const call: StubCall = { kind, params, aborted: false };
        this.calls.push(call);
        for (const notify of this.started)
            notify();
        if (this.failure !== undefined)
            throw this.failure;
        await this.gate;
        const pieces = this.answer(params);
        let emitted = 0;
        for (let index = 0; this.endless || index < pieces.length; index++) {
            // a real engine yields between tokens; so does the stub, so the server can react to an abort
            await new Promise((resolve) => setImmediate(resolve));
            if (signal.aborted) {
                call.aborted = true;
                for (const notify of this.abortSeen)
                    notify();
                throw new EngineError("aborted", "aborted");
            }
            if (emitted >= params.maxTokens)
                break;
            onToken(stubToken(index, pieces[index % pieces.length]));
            emitted++;
        }
        return emitted;
    }

    async chat(params: ChatParams, onToken: (token: TokenView) => void, signal: AbortSignal): Promise<ChatResult> {
        const generated = await this.run("chat", params, onToken, signal);
        return {
            text: "", stopReason: generated >= params.maxTokens ? "maxTokens" : "stopToken", promptTokens: 7, reusedTokens: 0, droppedMessages: 0,
            generatedTokens: generated, iteratedTokens: 0, tokensPerSecond: 0, stats: this.status().stats
        };
    }

    async complete(params: CompletionParams, onToken: (token: TokenView) => void, signal: AbortSignal): Promise<CompletionResult> {
        const generated = await this.run("complete", params, onToken, signal);
        return {
            text: "", tokens: [], stopReason: generated >= params.maxTokens ? "maxTokens" : "stopToken", promptTokens: 5, reusedTokens: 2, mode: "fim",
            prefillMs: 1, decodeMs: 2, stats: this.status().stats
        };
    }

    /** Each character of the text as one token, every other one hard. */
    analyze(params: AnalyzeParams): Promise<AnalyzeResult> {
        this.calls.push({ kind: "analyze", params, aborted: false });
        if (this.failure !== undefined)
            return Promise.reject(this.failure);
        const tokens = [...params.text].map((char, index) => ({ ...stubToken(index, char), start: index, end: index + 1 }));
        return Promise.resolve({ tokens, truncated: false, ms: 1 });
    }

    tokenCount(params: TokenCountParams): TokenCountResult {
        return { tokens: Math.ceil(params.text.length / 4), exact: true };
    }
}
