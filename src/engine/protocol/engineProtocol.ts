/**
 * The typed protocol between the extension host and the engine process (a Node child process, one per
 * window). Requests carry an id; the engine answers each with exactly one response or error, and may send
 * events for it before that (progress, streamed tokens). Either side may cancel a request by id.
 */
import type { EngineErrorInfo } from "./EngineError.js";

export type GpuSetting = "auto" | "cpu" | "vulkan" | "cuda";

export interface EngineSettings {
    /** The chat model; it also serves file analysis. */
    modelPath: string;
    /** The inline-completion model; null = the chat model's file. Either way completions get a context of their own. */
    completionModelPath: string | null;
    gpu: GpuSetting;
    /** 0 = one per physical core */
    threads: number;
    /** The most tokens one sequence holds (prompt and answer). */
    contextSize: number;
    /** null = the model's own threshold */
    threshold: number | null;
    /** Generation sequences per role, each answering one request at a time (tah serve --parallel); absent = 1. */
    parallel?: number;
}

export interface CandidateView {
    token: number;
    piece: string;
    prob: number;
}

/** One generated (or analysed) token as the UI shows it. */
export interface TokenView {
    token: number;
    /** The token's own text. */
    piece: string;
    /** Text that became decodable with this token (generation only; "" while a character is incomplete). */
    text: string;
    /** P(hard) of a TaH model, else the proxy 1 − p(top). */
    difficulty: number;
    difficultyIsProxy: boolean;
    iterated: boolean;
    /** The latent pass changed the top choice. */
    changed: boolean;
    before: CandidateView[];
    after: CandidateView[];
    /** The deepest depth the token ran, 0-based (TaH2 may go past 1); absent from engines that predate it. */
    depth?: number;
    /** The decider's probability at each depth it ran at (v1: [P(hard)]; TaH2: one per depth but the last); [] for a plain model. */
    pContinue?: number[];
}

export interface ModelSummary {
    name: string;
    kind: "tah" | "plain";
    path: string;
    backend: "cpu" | "vulkan" | "cuda";
    threads: number;
    contextSize: number;
    threshold: number | null;
    hasFim: boolean;
    hasChatTemplate: boolean;
    vocabularySize: number;
    /** Completion role: documents whose KV is kept side by side, so switching back to one reuses its prompt. */
    documentSequences?: number;
    /** What the model takes loaded; absent from an engine that does not report it. */
    memory?: ModelMemory;
}

/** A loaded model's memory: its weights, counted once when both roles share the file, and this role's KV cache. */
export interface ModelMemory {
    weightsBytes: number;
    kvCacheBytes: number;
}

/** The model of each role. When both roles name one file it is loaded once and both summaries name it. */
export interface LoadedModels {
    chat: ModelSummary;
    completion: ModelSummary;
}

export interface CompletionParams {
    prefix: string;
    suffix: string;
    maxTokens: number;
    /** Wall-clock budget for decoding, from the first decoded token on. */
    maxMs: number;
    /** Stop after this many lines of completion text (1 = single line). */
    maxLines: number;
    /** Send a token event per generated token; without it only the result comes back. */
    stream: boolean;
    /** Report whether each prompt token iterated (promptIterated): the prompt is then evaluated whole, without the cache. */
    promptIterations?: boolean;
    /** Multi-line: a later line indented less than this ends the suggestion before it (the block has ended). */
    stopBelowIndent?: number;
    /** The document the prompt comes from (its URI): each recent document keeps its KV in a sequence of its own. */
    document?: string;
}

export interface CompletionResult {
    text: string;
    tokens: TokenView[];
    stopReason: "stopToken" | "maxTokens" | "deadline" | "maxLines" | "special";
    promptTokens: number;
    reusedTokens: number;
    mode: "fim" | "prefix";
    /** The fill-in-the-middle order of the prompt (fim mode): SPM when the model was trained on it. */
    order?: "psm" | "spm";
    prefillMs: number;
    decodeMs: number;
    /** The engine's running totals after this request (what the status bar shows). */
    stats: EngineStats;
    /** Per prompt token, whether it iterated: only when promptIterations was asked. */
    promptIterated?: boolean[];
}

export interface ChatMessage {
    role: "system" | "user" | "assistant";
    content: string;
}

/** Chat sampling overrides; each field left out keeps the TaH reference's evaluation setting. */
export interface ChatSampling {
    /** 0 = greedy */
    temperature?: number;
    topP?: number;
    /** 0 = off */
    topK?: number;
    /** The same seed (and request) gives the same answer; without one each request draws a fresh seed. */
    seed?: number;
}

export interface ChatParams {
    messages: ChatMessage[];
    maxTokens: number;
    enableThinking: boolean;
    sampling?: ChatSampling;
    /** Send a token event per generated token; without it only the result comes back. */
    stream: boolean;
    /** Report whether each prompt token iterated (promptIterated): the prompt is then evaluated whole, without the cache. */
    promptIterations?: boolean;
}

export interface ChatResult {
    text: string;
    stopReason: "stopToken" | "maxTokens" | "deadline" | "done";
    promptTokens: number;
    reusedTokens: number;
    droppedMessages: number;
    generatedTokens: number;
    iteratedTokens: number;
    tokensPerSecond: number;
    /** The engine's running totals after this request (what the status bar shows). */
    stats: EngineStats;
    /** Per prompt token, whether it iterated: only when promptIterations was asked. */
    promptIterated?: boolean[];
}

export interface TokenCountParams {
    text: string;
}

export interface TokenCountResult {
    /** Tokens of the text under the loaded model's tokenizer. */
    tokens: number;
    /** False when the text was longer than any context could hold: then only its head was tokenized and the rest counted at the fewest tokens it can be. */
    exact: boolean;
}

export interface AnalyzeParams {
    text: string;
}

/** The difficulty of one token of analysed text; start/end are UTF-16 offsets into that text. */
export interface AnalyzedToken extends TokenView {
    start: number;
    end: number;
}

export interface AnalyzeResult {
    tokens: AnalyzedToken[];
    truncated: boolean;
    ms: number;
}

export interface ConvertParams {
    checkpointDir: string;
    outDir: string;
    /** A backbone weight type of src/convert/outputTypes.ts (f16, q8_0, q4_k_m, …). */
    type: string;
    force: boolean;
}

export interface ConvertResultView {
    outDir: string;
    type: string;
    files: Array<{ name: string; bytes: number }>;
}

export interface EngineStats {
    generatedTokens: number;
    iteratedTokens: number;
    tokensPerSecond: number | null;
    /** The sum of generated tokens' deepest depths (0-based), so mean depth = depthSum / generatedTokens; absent from engines that predate it. */
    depthSum?: number;
}

export interface StatusResult {
    models: LoadedModels | null;
    stats: EngineStats;
}

/** Method name → [params, result]. */
export interface EngineMethods {
    load: [EngineSettings, LoadedModels];
    complete: [CompletionParams, CompletionResult];
    chat: [ChatParams, ChatResult];
    analyze: [AnalyzeParams, AnalyzeResult];
    convert: [ConvertParams, ConvertResultView];
    status: [Record<string, never>, StatusResult];
    tokenCount: [TokenCountParams, TokenCountResult];
}

export type EngineMethod = keyof EngineMethods;

export type EngineEvent =
    | { kind: "progress"; fraction: number; stage: string }
    | { kind: "token"; token: TokenView };


export type HostToEngine =
    | { type: "request"; id: number; method: EngineMethod; params: unknown }
    | { type: "cancel"; id: number };

export type EngineToHost =
    | { type: "ready"; pid: number }
    | { type: "response"; id: number; result: unknown }
    | { type: "error"; id: number; error: EngineErrorInfo }
    | { type: "event"; id: number; event: EngineEvent }
    | { type: "log"; level: "trace" | "debug" | "info" | "warn" | "error"; message: string };
