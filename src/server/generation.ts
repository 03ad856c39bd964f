import type { TokenView } from "../engine/protocol/engineProtocol.js";
import { StopStrings } from "./StopStrings.js";

/** What an engine call reports when it ends by itself (not cut by a stop string). */
export interface EngineRunResult {
    promptTokens: number;
    stopReason: string;
    reusedTokens?: number;
    prefillMs?: number;
    decodeMs?: number;
    /** Per prompt token, whether it iterated, when the call was asked for it. */
    promptIterated?: boolean[];
}

export type EngineRun = (onToken: (token: TokenView) => void, signal: AbortSignal) => Promise<EngineRunResult>;

export interface Generation {
    text: string;
    /** "stop": a stop string, n_indent or the model's end token; "length": max_tokens or the time budget. */
    finishReason: "stop" | "length";
    /** A stop string or n_indent ended the answer (llama-server's stop_type "word"). */
    cutByStop: boolean;
    /** The tokens of the answer: those whose text is (at least partly) in it. */
    tokens: TokenView[];
    /** null when a stop string ended the engine's call early: the engine reports the prompt's size only at its end. */
    promptTokens: number | null;
    reusedTokens: number | null;
    prefillMs: number | null;
    decodeMs: number | null;
    promptIterated: boolean[] | null;
}

export interface GenerateOptions {
    stops: readonly string[];
    nIndent?: number;
    /** The client's signal: its abort ends the engine's call and the generation fails with it. */
    signal: AbortSignal;
    /** Text as it may be shown, with the tokens it completes (for streaming). */
    onText?: (text: string, tokens: TokenView[]) => void;
}

/**
 * Runs one engine call and applies the request's stop strings to its text: the call is aborted as soon as one
 * matches, and the answer ends before it.
 */
export async function generate(run: EngineRun, options: GenerateOptions): Promise<Generation> {
    const stops = new StopStrings(options.stops, options.nIndent ?? 0);
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    options.signal.addEventListener("abort", abort, { once: true });
    const tokens: Array<{ view: TokenView; start: number; end: number }> = [];
    let generatedLength = 0;
    let releasedTokens = 0;
    const takeTokens = (upTo: (token: { start: number; end: number }) => boolean): TokenView[] => {
        const taken: TokenView[] = [];
        while (releasedTokens < tokens.length && upTo(tokens[releasedTokens]))
            taken.push(tokens[releasedTokens++].view);
        return taken;
    };
    const onToken = (view: TokenView): void => {
        if (stops.stopped)
            return;
        tokens.push({ view, start: generatedLength, end: generatedLength + view.text.length });
        generatedLength += view.text.length;
        const text = stops.push(view.text);
        const released = stops.stopped
            ? takeTokens((token) => token.start < stops.releasedLength)
            : takeTokens((token) => token.end <= stops.releasedLength);
        if (text !== "" || released.length > 0)
            options.onText?.(text, released);
        if (stops.stopped)
            controller.abort();
    };
    try {
        let result: EngineRunResult | undefined;
        try {
            result = await run(onToken, controller.signal);
        } catch (error) {
            // the abort this function made for a stop string is the answer's end; any other error (the client's abort too) is the caller's
            if (!stops.stopped || options.signal.aborted)
                throw error;
        }
        const rest = stops.flush();
        const released = takeTokens((token) => token.start < stops.releasedLength || (!stops.stopped && token.start === token.end));
        if (rest !== "" || released.length > 0)
            options.onText?.(rest, released);
        const kept = tokens.slice(0, releasedTokens).map((token) => token.view);
        const text = kept.map((token) => token.text).join("").slice(0, stops.releasedLength);
        return {
            text,
            finishReason: result === undefined || !["maxTokens", "deadline"].includes(result.stopReason) ? "stop" : "length",
            cutByStop: stops.stopped,
            tokens: kept,
            promptTokens: result?.promptTokens ?? null,
            reusedTokens: result?.reusedTokens ?? null,
            prefillMs: result?.prefillMs ?? null,
            decodeMs: result?.decodeMs ?? null,
            promptIterated: result?.promptIterated ?? null
        };
    } finally {
        options.signal.removeEventListener("abort", abort);
    }
}
