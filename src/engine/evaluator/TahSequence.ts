import type { NativeSampling } from "../native/tahBindings.js";
import type { TahContext } from "./TahContext.js";
import type { SamplingOptions } from "./sampling.js";
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
    /** Decoding time after which no new step starts (the prefill does not count). */
    maxDecodeMs?: number;
    /** Ends generation after a token once the text generated so far satisfies it. */
    isDone?: (generatedText: string) => boolean;
    /** Render special tokens (such as <think>) in the streamed text. */
    renderSpecialTokens?: boolean;
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
    prefillMs: number;
    decodeMs: number;
    promptRecords: TokenRecord[];
}

/** A request that does not fit the context; nothing of it was evaluated. */
export class ContextFullError extends Error {}

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

    constructor(private readonly context: TahContext, readonly index: number) {}

    /** The tokens whose KV (both depths) the sequence holds. */
    get tokens(): readonly number[] {
        return this.evaluated;
    }

    private thresholdOf(options: { threshold?: number }): number {
        return options.threshold ?? this.context.model.defaultThreshold;
    }

    /** Forgets every position from `length` on, at both depths. */
    async truncate(length: number): Promise<void> {
        if (length >= this.evaluated.length)
            return;
        await this.context.schedule(undefined, () => {
            this.context.native.removeFrom(this.index, length);
            this.evaluated.length = length;
            return Promise.resolve();
        });
    }

    /** Appends tokens (prefilled in chunks of the batch size) and returns their records. */
    async evaluate(tokens: readonly number[], options: EvaluateOptions = {}): Promise<EvaluateResult> {
        const threshold = this.thresholdOf(options);
        if (this.thresholdInCache !== undefined && this.thresholdInCache !== threshold && this.evaluated.length > 0)
            throw new Error("the cached tokens were evaluated with another threshold; truncate first");
        const { batchSize, contextSize } = this.context.options;
        if (this.evaluated.length + tokens.length > contextSize)
            throw new ContextFullError(`the context is full: ${this.evaluated.length} tokens held and ${tokens.length} more do not fit the context of ${contextSize} tokens`);
        const isTah = this.context.model.kind === "tah";
        const recordFrom = Math.max(0, Math.min(options.recordFrom ?? 0, tokens.length));
        const result: EvaluateResult = { records: [], iterated: 0, timings: emptyTimings() };

        for (let start = 0; start < tokens.length || (start === 0 && options.sample !== undefined); start += batchSize) {
            const chunk = tokens.slice(start, start + batchSize);
            const last = start + batchSize >= tokens.length;
            const sample: NativeSampling | undefined = last ? options.sample : undefined;
            const began = performance.now();
            const step = await this.context.schedule(options.signal, async () => {
                const startPosition = this.evaluated.length;
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

    /**
     * Makes the sequence hold exactly `prompt`, reusing the KV of the longest common prefix with what it holds.
     * The last prompt token is always evaluated (its logits are what the next token is drawn from).
     */
    async prefill(prompt: readonly number[], options: EvaluateOptions = {}): Promise<PrefillResult> {
        if (prompt.length === 0)
            throw new Error("an empty prompt");
        const threshold = this.thresholdOf(options);
        const sameThreshold = this.thresholdInCache === undefined || this.thresholdInCache === threshold;
        const reused = sameThreshold ? Math.min(commonPrefixLength(this.evaluated, prompt), prompt.length - 1) : 0;
        await this.truncate(reused);
        if (reused === 0)
            this.thresholdInCache = undefined;
        const result = await this.evaluate(prompt.slice(reused), {
            ...options,
            threshold,
            recordFrom: Math.max(0, (options.recordFrom ?? 0) - reused)
        });
        return { ...result, reused };
    }

    /** Prefills the prompt, then draws up to maxTokens tokens, yielding each with the record that produced it. */
    async *generate(prompt: readonly number[], options: GenerateOptions): AsyncGenerator<GeneratedToken, GenerationSummary> {
        const model = this.context.model;
        const isStop = options.isStopToken ?? ((token: number) => model.isEndOfGeneration(token));
        const common = { threshold: options.threshold, recordTopN: options.recordTopN ?? 5, sample: options.sampling, signal: options.signal };
        const prefillStart = performance.now();
        const prefill = await this.prefill(prompt, { ...common, recordFrom: options.promptRecordsFrom ?? prompt.length - 1 });
        const summary: GenerationSummary = {
            stopReason: "maxTokens",
            promptTokens: prompt.length,
            reusedTokens: prefill.reused,
            generatedTokens: 0,
            iteratedTokens: 0,
            prefillMs: performance.now() - prefillStart,
            decodeMs: 0,
            promptRecords: prefill.records
        };

        let next = prefill.nextToken!;
        let predictor = prefill.records[prefill.records.length - 1];
        const generated: number[] = [];
        let emitted = "";
        const decodeStart = performance.now();
        for (;;) {
            if (isStop(next)) {
                summary.stopReason = "stopToken";
                break;
            }
            generated.push(next);
            summary.generatedTokens++;
            summary.iteratedTokens += predictor.iterated ? 1 : 0;
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
            if (options.maxDecodeMs !== undefined && performance.now() - decodeStart >= options.maxDecodeMs) {
                summary.stopReason = "deadline";
                break;
            }
            const step = await this.evaluate([next], common);
            predictor = step.records[0]!;
            next = step.nextToken!;
        }
        summary.decodeMs = performance.now() - decodeStart;
        return summary;
    }
}
