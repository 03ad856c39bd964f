import type { NativeSampling } from "../native/tahBindings.js";
import { EngineError } from "../protocol/EngineError.js";
import type { TahContext } from "./TahContext.js";
import { nextStepFits } from "./decodeBudget.js";
import { samplingAtStep, type SamplingOptions } from "./sampling.js";
import { recordsOf, type TokenRecord } from "./tokenRecords.js";

export interface EvaluateOptions {
    /** Iterate a token iff P(hard) > threshold; the model's own threshold by default. */
    threshold?: number;
    /** Ranked candidates per record (before and after the latent pass). */
    recordTopN?: number;
    /** Index in the tokens from which records are wanted (earlier ones still run, unrecorded). */
    recordFrom?: number;
    /** Draw the token that follows the last one. */
    sample?: SamplingOptions;
    /** Positions kept of what the sequence holds before the tokens are appended (default: all of them). */
    keep?: number;
    signal?: AbortSignal;
}

export interface EvaluateResult {
    records: TokenRecord[];
    /** The drawn next token, when sampling was asked for. */
    nextToken?: number;
    iterated: number;
    timings: StepTimings;
}

export interface StepTimings {
    depth0Ms: number;
    deciderMs: number;
    selectMs: number;
    loraMs: number;
    depth1Ms: number;
    sampleMs: number;
    wallMs: number;
}

export interface PrefillResult extends EvaluateResult {
    /** Prompt tokens whose KV was reused from the previous request. */
    reused: number;
}

export interface GenerateOptions {
    maxTokens: number;
    sampling: SamplingOptions;
    threshold?: number;
    recordTopN?: number;
    /** Index in the prompt from which prompt records are wanted (default: only the last prompt token). */
    promptRecordsFrom?: number;
    /** Stop before this token (default: the model's end-of-generation tokens). */
    isStopToken?: (token: number) => boolean;
    /** Decoding time no step may run past, at the pace of the steps before it (the prefill does not count). */
    maxDecodeMs?: number;
    /** Ends generation after a token once the text generated so far satisfies it. */
    isDone?: (generatedText: string) => boolean;
    /** Render special tokens (such as <think>) in the streamed text. */
    renderSpecialTokens?: boolean;
    /** Requests still waiting for the sequence end `aborted` when this one arrives (a newer keystroke's completion). */
    supersedesWaiting?: boolean;
    signal?: AbortSignal;
}

export interface GeneratedToken {
    token: number;
    /** Text that became decodable with this token ("" while a multi-byte character is incomplete). */
    text: string;
    /** The record of the position whose final logits produced this token. */
    record: TokenRecord;
}

export type StopReason = "stopToken" | "maxTokens" | "deadline" | "done";

export interface GenerationSummary {
    stopReason: StopReason;
    promptTokens: number;
    reusedTokens: number;
    generatedTokens: number;
    iteratedTokens: number;
    /** The generated tokens' deepest depths, summed (the status bar's mean depth). */
    depthSum: number;
    prefillMs: number;
    decodeMs: number;
    promptRecords: TokenRecord[];
}

/** Requests that may wait for a sequence while another one uses it; one more is refused as `busy`. */
export const maxWaitingPerSequence = 8;

interface Waiter {
    start: () => void;
    fail: (error: EngineError) => void;
}

const emptyTimings = (): StepTimings => ({ depth0Ms: 0, deciderMs: 0, selectMs: 0, loraMs: 0, depth1Ms: 0, sampleMs: 0, wallMs: 0 });

function addTimings(total: StepTimings, step: StepTimings): void {
    for (const key of Object.keys(total) as Array<keyof StepTimings>)
        total[key] += step[key];
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
    const n = Math.min(a.length, b.length);
    let i = 0;
    while (i < n && a[i] === b[i])
        i++;
    return i;
}

/**
 * One logical sequence of a TahContext. It remembers which tokens its KV holds, so that a request sharing a
 * prefix with the previous one only evaluates what is new.
 */
export class TahSequence {
    private evaluated: number[] = [];
    private thresholdInCache: number | undefined;
    private inUse = false;
    private readonly waiting: Waiter[] = [];

    constructor(private readonly context: TahContext, readonly index: number) {}

    /** The tokens whose KV (both depths) the sequence holds. */
    get tokens(): readonly number[] {
        return this.evaluated;
    }

    private thresholdOf(options: { threshold?: number }): number {
        return options.threshold ?? this.context.model.defaultThreshold;
    }

    /**
     * Waits until the sequence is this request's alone and returns the function that hands it on. A request holds
     * the sequence from its first look at the cache to its last token, so what it reuses is what the cache holds;
     * one that is cancelled while it waits leaves the queue at once, and nothing of it runs.
     */
    private acquire(signal: AbortSignal | undefined, supersedesWaiting: boolean): Promise<() => void> {
        if (signal?.aborted === true)
            return Promise.reject(new EngineError("aborted", "aborted"));
        if (supersedesWaiting)
            for (const waiter of this.waiting.splice(0))
                waiter.fail(new EngineError("aborted", "superseded by a newer request"));
        let released = false;
        const release = (): void => {
            if (released)
                return;
            released = true;
            const next = this.waiting.shift();
            if (next === undefined)
                this.inUse = false;
            else
                next.start();
        };
        if (!this.inUse) {
            this.inUse = true;
            return Promise.resolve(release);
        }
        if (this.waiting.length >= maxWaitingPerSequence)
            return Promise.reject(new EngineError("busy", `${maxWaitingPerSequence} requests already wait for this sequence; try again when they are done`));
        return new Promise((resolve, reject) => {
            const onAbort = (): void => {
                const at = this.waiting.indexOf(waiter);
                if (at >= 0)
                    this.waiting.splice(at, 1);
                reject(new EngineError("aborted", "aborted"));
            };
            const waiter: Waiter = {
                start: () => {
                    signal?.removeEventListener("abort", onAbort);
                    resolve(release);
                },
                fail: (error) => {
                    signal?.removeEventListener("abort", onAbort);
                    reject(error);
                }
            };
            signal?.addEventListener("abort", onAbort, { once: true });
            this.waiting.push(waiter);
        });
    }

    private async exclusively<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
        const release = await this.acquire(signal, false);
        try {
            return await work();
        } finally {
            release();
        }
    }

    /** Forgets every position from `length` on, at both depths. */
    truncate(length: number): Promise<void> {
        return this.exclusively(undefined, () => this.evaluateHeld([], { keep: length }).then(() => undefined));
    }

    /** Appends tokens (prefilled in chunks of the batch size) and returns their records. */
    evaluate(tokens: readonly number[], options: EvaluateOptions = {}): Promise<EvaluateResult> {
        return this.exclusively(options.signal, () => this.evaluateHeld(tokens, options));
    }

    /**
     * Makes the sequence hold exactly `prompt`, reusing the KV of the longest common prefix with what it holds.
     * The last prompt token is always evaluated (its logits are what the next token is drawn from).
     */
    prefill(prompt: readonly number[], options: EvaluateOptions = {}): Promise<PrefillResult> {
        return this.exclusively(options.signal, () => this.prefillHeld(prompt, options));
    }

    /** evaluate, by the request that holds the sequence. */
    private async evaluateHeld(tokens: readonly number[], options: EvaluateOptions): Promise<EvaluateResult> {
        const threshold = this.thresholdOf(options);
        const keep = Math.min(options.keep ?? this.evaluated.length, this.evaluated.length);
        const evaluates = tokens.length > 0 || options.sample !== undefined;
        if (evaluates && this.thresholdInCache !== undefined && this.thresholdInCache !== threshold && keep > 0)
            throw new Error("the cached tokens were evaluated with another threshold; keep none of them");
        const { batchSize, contextSize } = this.context.options;
        if (keep + tokens.length > contextSize)
            throw new EngineError("contextFull", `the context is full: ${keep} tokens held and ${tokens.length} more do not fit the context of ${contextSize} tokens`);
        const isTah = this.context.model.kind === "tah";
        const recordFrom = Math.max(0, Math.min(options.recordFrom ?? 0, tokens.length));
        const result: EvaluateResult = { records: [], iterated: 0, timings: emptyTimings() };
        // the cache is trimmed in the same native step that appends the first chunk: a request cancelled before it
        // runs leaves the sequence exactly as it was
        let trim = keep < this.evaluated.length;

        for (let start = 0; start < tokens.length || (start === 0 && (options.sample !== undefined || trim)); start += batchSize) {
            const chunk = tokens.slice(start, start + batchSize);
            const last = start + batchSize >= tokens.length;
            const sample: NativeSampling | undefined = last ? options.sample : undefined;
            const began = performance.now();
            const step = await this.context.schedule(options.signal, async () => {
                if (trim) {
                    this.context.native.removeFrom(this.index, keep);
                    this.evaluated.length = keep;
                    if (keep === 0)
                        this.thresholdInCache = undefined;
                    trim = false;
                }
                const startPosition = this.evaluated.length;
                if (!evaluates)
                    return { native: undefined, startPosition };
                const native = await this.context.native.evaluate(this.index, Uint32Array.from(chunk), {
                    threshold,
                    recordTopN: options.recordTopN ?? 5,
                    recordFrom: Math.max(0, recordFrom - start),
                    ...(sample !== undefined ? { sample } : {})
                });
                this.evaluated.push(...chunk);
                this.thresholdInCache = threshold;
                return { native, startPosition };
            });
            if (step.native === undefined)
                break;
            result.records.push(...recordsOf(step.native, chunk, step.startPosition, isTah));
            result.iterated += step.native.iteratedCount;
            addTimings(result.timings, {
                depth0Ms: step.native.timings.depth0Us / 1000,
                deciderMs: step.native.timings.deciderUs / 1000,
                selectMs: step.native.timings.selectUs / 1000,
                loraMs: step.native.timings.loraUs / 1000,
                depth1Ms: step.native.timings.depth1Us / 1000,
                sampleMs: step.native.timings.sampleUs / 1000,
                wallMs: performance.now() - began
            });
            if (sample !== undefined)
                result.nextToken = step.native.nextToken;
            if (chunk.length === 0)
                break;
        }
        return result;
    }

    /** prefill, by the request that holds the sequence: nothing else changes the cache between reading and trimming it. */
    private async prefillHeld(prompt: readonly number[], options: EvaluateOptions): Promise<PrefillResult> {
        if (prompt.length === 0)
            throw new Error("an empty prompt");
        const threshold = this.thresholdOf(options);
        const sameThreshold = this.thresholdInCache === undefined || this.thresholdInCache === threshold;
        const reused = sameThreshold ? Math.min(commonPrefixLength(this.evaluated, prompt), prompt.length - 1) : 0;
        const result = await this.evaluateHeld(prompt.slice(reused), {
            ...options,
            threshold,
            keep: reused,
            recordFrom: Math.max(0, (options.recordFrom ?? 0) - reused)
        });
        return { ...result, reused };
    }

    /** generate, with each token handed to `onToken`; resolves with the summary once generation ends. */
    async generateEach(prompt: readonly number[], options: GenerateOptions, onToken: (token: GeneratedToken) => void): Promise<GenerationSummary> {
        const generator = this.generate(prompt, options);
        for (let step = await generator.next(); ; step = await generator.next()) {
            if (step.done === true)
                return step.value;
            try {
                onToken(step.value);
            } catch (error) {
                // lets the generator hand the sequence on before the error goes up
                await generator.throw(error);
                throw error;
            }
        }
    }

    /** Prefills the prompt, then draws up to maxTokens tokens, yielding each with the record that produced it. */
    async *generate(prompt: readonly number[], options: GenerateOptions): AsyncGenerator<GeneratedToken, GenerationSummary> {
        const common = { threshold: options.threshold, recordTopN: options.recordTopN ?? 5, sample: options.sampling, signal: options.signal };
        const release = await this.acquire(options.signal, options.supersedesWaiting ?? false);
        try {
            return yield* this.generateHeld(prompt, options, common);
        } finally {
            release();
        }
    }

    private async *generateHeld(prompt: readonly number[], options: GenerateOptions, common: EvaluateOptions): AsyncGenerator<GeneratedToken, GenerationSummary> {
        const model = this.context.model;
        const isStop = options.isStopToken ?? ((token: number) => model.isEndOfGeneration(token));
        const prefillStart = performance.now();
        const prefill = await this.prefillHeld(prompt, { ...common, sample: samplingAtStep(options.sampling, 0), recordFrom: options.promptRecordsFrom ?? prompt.length - 1 });
        const summary: GenerationSummary = {
            stopReason: "maxTokens",
            promptTokens: prompt.length,
            reusedTokens: prefill.reused,
            generatedTokens: 0,
            iteratedTokens: 0,
            depthSum: 0,
            prefillMs: performance.now() - prefillStart,
            decodeMs: 0,
            promptRecords: prefill.records
        };

        let next = prefill.nextToken!;
        let predictor = prefill.records[prefill.records.length - 1];
        const generated: number[] = [];
        let emitted = "";
        const decodeStart = performance.now();
        let decodeSteps = 0;
        for (;;) {
            if (isStop(next)) {
                summary.stopReason = "stopToken";
                break;
            }
            generated.push(next);
            summary.generatedTokens++;
            summary.iteratedTokens += predictor.iterated ? 1 : 0;
            summary.depthSum += predictor.depth;
            const decoded = model.detokenize(generated, options.renderSpecialTokens ?? false);
            // hold back an incomplete multi-byte character until the token that completes it
            const text = decoded.endsWith("\uFFFD") ? "" : decoded.slice(emitted.length);
            emitted += text;
            yield { token: next, text, record: predictor };

            if (options.isDone?.(emitted) === true) {
                summary.stopReason = "done";
                break;
            }
            if (summary.generatedTokens >= options.maxTokens)
                break;
            if (options.maxDecodeMs !== undefined && !nextStepFits(performance.now() - decodeStart, decodeSteps, options.maxDecodeMs)) {
                summary.stopReason = "deadline";
                break;
            }
            const step = await this.evaluateHeld([next], { ...common, sample: samplingAtStep(options.sampling, summary.generatedTokens) });
            decodeSteps++;
            predictor = step.records[0]!;
            next = step.nextToken!;
        }
        summary.decodeMs = performance.now() - decodeStart;
        return summary;
    }
}
