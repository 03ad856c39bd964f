import type { CompletionParams, CompletionResult, EngineEvent } from "../engine/protocol/engineProtocol.js";
import { AdaptiveDebounce } from "./AdaptiveDebounce.js";
import { CompletionCache } from "./CompletionCache.js";
import { type CompletionContext, type ContextBudget, extractContext } from "./completionContext.js";
import { blockStopIndent, maxLinesFor, type MultilineSetting, shouldSkipAutomatic } from "./multilinePolicy.js";
import { type HardTokenPolicy, postProcess, type Suggestion } from "./postProcess.js";

/** The engine as the completion service needs it (EngineClient.request("complete", …) in the product). */
export type CompleteFunction = (params: CompletionParams, options: { signal: AbortSignal; onEvent?: (event: EngineEvent) => void }) => Promise<CompletionResult>;

export interface InlineCompletionSettings extends ContextBudget {
    debounceMs: number;
    adaptiveDebounce: boolean;
    maxTokens: number;
    maxMs: number;
    multiline: MultilineSetting;
    maxLines: number;
    maxLineSuffix: number;
    hardTokenPolicy: HardTokenPolicy;
    hardTokenThreshold: number;
    cacheSize: number;
    /**
     * After a suggestion is shown, ask for the one that follows it (as if it were accepted) while the user reads:
     * accepting then shows the next suggestion from the cache, and the engine's cells for it are warm. On by default.
     */
    speculative?: boolean;
}

export interface CompletionRequest {
    text: string;
    offset: number;
    /** "automatic" as the user types; "explicit" when asked for (no debounce, no skip). */
    trigger: "automatic" | "explicit";
    signal: AbortSignal;
    /** The document line `text` starts on (callers that pass a window of the document); 0 by default. */
    firstLine?: number;
    /** The document's URI: the engine keeps recent documents' KV apart, so switching back to one stays cheap. */
    document?: string;
}

export interface CompletionOutcome {
    suggestion: Suggestion | undefined;
    /** "cache" includes suggestions computed speculatively before they were asked for. */
    source: "cache" | "engine" | "skipped";
    /** From the end of the debounce to the answer (engine requests only). */
    latencyMs?: number;
    result?: CompletionResult;
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
        if (signal.aborted) {
            resolve(false);
            return;
        }
        const timer = setTimeout(() => {
            signal.removeEventListener("abort", onAbort);
            resolve(true);
        }, ms);
        const onAbort = (): void => {
            clearTimeout(timer);
            resolve(false);
        };
        signal.addEventListener("abort", onAbort, { once: true });
    });
}

/**
 * Inline completion without VS Code: context, cache with type-through, adaptive debounce, the engine request
 * (cancelled when the editor cancels), and post-processing. The VS Code provider only adapts to this.
 */
export class InlineCompletionService {
    private readonly cache: CompletionCache;
    readonly debounce = new AdaptiveDebounce();
    /** The speculative request running, if any: a request the cache cannot answer cancels it. */
    private speculation: { controller: AbortController; done: Promise<void> } | undefined;

    constructor(private readonly complete: CompleteFunction, private readonly settings: () => InlineCompletionSettings, private readonly now: () => number = () => performance.now()) {
        this.cache = new CompletionCache(settings().cacheSize);
    }

    clearCache(): void {
        this.cache.clear();
    }

    async provide(request: CompletionRequest, onEvent?: (event: EngineEvent) => void): Promise<CompletionOutcome> {
        const settings = this.settings();
        const context = extractContext(request.text, request.offset, settings, request.firstLine);
        if (request.trigger === "automatic") {
            this.debounce.recordKeystroke(this.now());
            if (shouldSkipAutomatic(context, settings.maxLineSuffix))
                return { suggestion: undefined, source: "skipped" };
        }

        const hit = this.cache.get(context.prefix, context.suffix);
        if (hit !== undefined)
            return { suggestion: hit.suggestion, source: "cache" };
        // the user went elsewhere than the speculation guessed: the engine is needed for this request now
        this.speculation?.controller.abort();

        if (request.trigger === "automatic") {
            const delay = this.debounce.delayMs({
                lastCharacter: context.linePrefix.slice(-1) || "\n",
                atLineEnd: context.lineSuffix.trim() === "",
                atDocumentEnd: request.offset >= request.text.length
            }, { baseMs: settings.debounceMs, adaptive: settings.adaptiveDebounce });
            if (!(await sleep(delay, request.signal)))
                return { suggestion: undefined, source: "skipped" };
        }

        const started = this.now();
        const { suggestion, result } = await this.ask(context, settings, request.signal, request.document, onEvent);
        const latencyMs = this.now() - started;
        this.debounce.recordLatency(latencyMs);
        if (suggestion !== undefined && settings.speculative !== false)
            this.speculate(context, suggestion, settings, request.document);
        return { suggestion, source: "engine", latencyMs, result };
    }

    /** Resolves once the speculative request running (if any) is over; for tests and the benchmark. */
    async speculationSettled(): Promise<void> {
        await this.speculation?.done;
    }

    /** One engine request and its post-processing; a suggestion is cached under its context. */
    private async ask(context: CompletionContext, settings: InlineCompletionSettings, signal: AbortSignal, document: string | undefined, onEvent?: (event: EngineEvent) => void): Promise<{ suggestion: Suggestion | undefined; result: CompletionResult }> {
        const maxLines = maxLinesFor(context, settings.multiline, settings.maxLines);
        const stopBelowIndent = blockStopIndent(context, maxLines);
        const result = await this.complete({
            prefix: context.prefix,
            suffix: context.suffix,
            maxTokens: settings.maxTokens,
            maxMs: settings.maxMs,
            maxLines,
            ...(stopBelowIndent !== undefined ? { stopBelowIndent } : {}),
            stream: onEvent !== undefined,
            ...(document !== undefined ? { document } : {})
        }, { signal, ...(onEvent !== undefined ? { onEvent } : {}) });
        const suggestion = postProcess({ text: result.text, tokens: result.tokens }, {
            suffix: context.suffix,
            maxLines,
            hardTokenPolicy: settings.hardTokenPolicy,
            hardTokenThreshold: settings.hardTokenThreshold,
            leadingTokens: 3
        });
        if (suggestion !== undefined)
            this.cache.set(context.prefix, context.suffix, suggestion);
        return { suggestion, result };
    }

    /** Asks, in the background, for the suggestion that follows `shown` once it is accepted (llama.vscode's speculative FIM). */
    private speculate(context: CompletionContext, shown: Suggestion, settings: InlineCompletionSettings, document: string | undefined): void {
        this.speculation?.controller.abort();
        const accepted = context.prefix + shown.text;
        const lineStart = accepted.lastIndexOf("\n") + 1;
        const next: CompletionContext = { prefix: accepted, suffix: context.suffix, linePrefix: accepted.slice(lineStart), lineSuffix: context.lineSuffix };
        const controller = new AbortController();
        const done = this.ask(next, settings, controller.signal, document).then(() => undefined, () => undefined).finally(() => {
            if (this.speculation?.controller === controller)
                this.speculation = undefined;
        });
        this.speculation = { controller, done };
    }
}
