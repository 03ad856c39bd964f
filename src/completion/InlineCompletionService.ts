import type { CompletionParams, CompletionResult, EngineEvent } from "../engine/protocol/engineProtocol.js";
import { AdaptiveDebounce } from "./AdaptiveDebounce.js";
import { CompletionCache } from "./CompletionCache.js";
import { type ContextBudget, extractContext } from "./completionContext.js";
import { maxLinesFor, type MultilineSetting, shouldSkipAutomatic } from "./multilinePolicy.js";
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
}

export interface CompletionRequest {
    text: string;
    offset: number;
    /** "automatic" as the user types; "explicit" when asked for (no debounce, no skip). */
    trigger: "automatic" | "explicit";
    signal: AbortSignal;
}

export interface CompletionOutcome {
    suggestion: Suggestion | undefined;
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

    constructor(private readonly complete: CompleteFunction, private readonly settings: () => InlineCompletionSettings, private readonly now: () => number = () => performance.now()) {
        this.cache = new CompletionCache(settings().cacheSize);
    }

    clearCache(): void {
        this.cache.clear();
    }

    async provide(request: CompletionRequest, onEvent?: (event: EngineEvent) => void): Promise<CompletionOutcome> {
        const settings = this.settings();
        const context = extractContext(request.text, request.offset, settings);
        if (request.trigger === "automatic") {
            this.debounce.recordKeystroke(this.now());
            if (shouldSkipAutomatic(context, settings.maxLineSuffix))
                return { suggestion: undefined, source: "skipped" };
        }

        const hit = this.cache.get(context.prefix, context.suffix);
        if (hit !== undefined)
            return { suggestion: hit.suggestion, source: "cache" };

        if (request.trigger === "automatic") {
            const delay = this.debounce.delayMs({
                lastCharacter: context.linePrefix.slice(-1) || "\n",
                atLineEnd: context.lineSuffix.trim() === "",
                atDocumentEnd: request.offset >= request.text.length
            }, { baseMs: settings.debounceMs, adaptive: settings.adaptiveDebounce });
            if (!(await sleep(delay, request.signal)))
                return { suggestion: undefined, source: "skipped" };
        }

        const maxLines = maxLinesFor(context, settings.multiline, settings.maxLines);
        const started = this.now();
        const result = await this.complete({
            prefix: context.prefix,
            suffix: context.suffix,
            maxTokens: settings.maxTokens,
            maxMs: settings.maxMs,
            maxLines,
            stream: onEvent !== undefined
        }, { signal: request.signal, ...(onEvent !== undefined ? { onEvent } : {}) });
        const latencyMs = this.now() - started;
        this.debounce.recordLatency(latencyMs);

        const suggestion = postProcess({ text: result.text, tokens: result.tokens }, {
            suffix: context.suffix,
            maxLines,
            hardTokenPolicy: settings.hardTokenPolicy,
            hardTokenThreshold: settings.hardTokenThreshold,
            leadingTokens: 3
        });
        if (suggestion !== undefined)
            this.cache.set(context.prefix, context.suffix, suggestion);
        return { suggestion, source: "engine", latencyMs, result };
    }
}
