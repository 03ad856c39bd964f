// What the bench's worker processes report (one JSON line on stdout each).
import type { StepTimings } from "../src/engine/evaluator/TahSequence.js";
import type { CompletionParams } from "../src/engine/protocol/engineProtocol.js";

export interface SpeedSample {
    /** Tokens per second of greedy decoding (excluding the prompt). */
    decodeTps: number;
    /** Tokens per second of prefilling the long prompt. */
    prefillTps: number;
    /** Share of decoded tokens that iterated (TaH only). */
    iteratedShare: number;
    /** Share of prompt tokens that iterated in the prefill (TaH only). */
    prefillIteratedShare: number;
}

/** The engine's own step timings, with the JavaScript-side wall time replaced by what the parts leave over. */
export type StepBreakdown = Omit<StepTimings, "wallMs"> & {
    /** Wall time of the step as JavaScript sees it, minus the parts above: binding and record building. */
    otherMs: number;
};

export interface WorkerRequest {
    kind: "baseline" | "tah";
    modelPath: string;
    threads: number;
    decodeTokens: number;
    prefillTokens: number;
    /** TaH only: the thresholds to measure. */
    thresholds?: number[];
}

export interface WorkerResult {
    kind: "baseline" | "tah";
    buildType: string;
    /** One per threshold (TaH) or a single one (baseline). */
    samples: Array<{ threshold: number | null } & SpeedSample & { breakdown?: StepBreakdown }>;
    rssBytes: number;
    /** TaH only: P(hard) of each decoded token at the last threshold (depth 0 does not depend on it). */
    decodePHard?: number[];
}

/** The plain llama.cpp replay: the requests the TaH engine received, on the same backbone GGUF. */
export interface ReplayBaselineRequest {
    modelPath: string;
    threads: number;
    contextSize: number;
    /** Suffix tokens of a PSM prompt, as the TaH engine chose them (SPM ignores it). */
    maxSuffixTokens: number;
    /** The priming request first (untimed), then the typed ones. */
    priming: CompletionParams;
    requests: ReplayedRequest[];
}

/** A request the TaH engine served in the replay, and how many tokens it generated for it. */
export interface ReplayedRequest {
    params: CompletionParams;
    /** The baseline generates exactly as many, whatever it draws, so both replays decode the same number of steps. */
    generatedTokens: number;
}

export interface ReplayBaselineResult {
    buildType: string;
    order: string;
    latencies: number[];
    firstTokenLatencies: number[];
    evaluatedShares: number[];
}
