import { LlamaLogLevel } from "node-llama-cpp";
import path from "node:path";
import { StepQueue, type StepPriority } from "../evaluator/StepQueue.js";
import { kvCellsPerSequence, TahContext } from "../evaluator/TahContext.js";
import { greedy, referenceSampling, type SamplingOptions } from "../evaluator/sampling.js";
import type { GenerationSummary, TahSequence } from "../evaluator/TahSequence.js";
import { TahModel } from "../model/TahModel.js";
import { loadPatchedLlama, type PatchedLlama } from "../native/loadPatchedLlama.js";
import { EngineError, engineErrorCodeOf } from "../protocol/EngineError.js";
import { buildChatPrompt } from "../prompts/chatPrompt.js";
import { buildCompletionPrompt, charsPerTokenBound } from "../prompts/completionPrompt.js";
import { keptLines } from "../prompts/completionStops.js";
import { fimOrdersOf, preferredFimOrder } from "../prompts/fimOrder.js";
import type {
    AnalyzeParams, AnalyzeResult, ChatParams, ChatResult, CompletionParams, CompletionResult, ConvertParams, ConvertResultView, EngineSettings, EngineStats,
    LoadedModels, ModelSummary, StatusResult, TokenCountParams, TokenCountResult, TokenView
} from "../protocol/engineProtocol.js";
import { SlotPool, type Slot } from "./SlotPool.js";
import { CompletionSequencePool, fileSequenceCount } from "./CompletionSequencePool.js";
import { modelKvBytesPerCell, modelMemory } from "./modelMemory.js";
import { analyzedTokens, tokenView } from "./tokenViews.js";
import { convertCheckpoint, type ConvertStage } from "../../convert/convertCheckpoint.js";
import { isOutputTypeName } from "../../convert/outputTypes.js";

/**
 * llama.cpp warnings that do not apply to TaH's contexts: the unified KV cache holds every sequence and its depth-1
 * cells, so its size exceeds the training context although no sequence does (the engine enforces that itself).
 */
const noisy = /n_ctx_seq \(\d+\) > n_ctx_train/;

function logLevelOf(level: LlamaLogLevel): "debug" | "warn" | "error" {
    if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal)
        return "error";
    return level === LlamaLogLevel.warn ? "warn" : "debug";
}

/** Where each conversion stage starts, as a share of the whole (the backbone's bytes dominate). */
const stageFraction: Record<ConvertStage, number> = { read: 0, backbone: 0.1, quantize: 0.7, lora: 0.85, decider: 0.95, done: 1 };

/**
 * Sequences of a role's context: `parallel` for its generations (0 … parallel − 1; one in the extension, more under
 * tah serve --parallel), and in the chat model's context file analysis after them.
 */
const analysisSequenceOf = (parallel: number): number => parallel;

/** Requests that may wait for a free sequence of a role once all of its parallel sequences are in use. */
const maxWaitingForSlot = 64;

/** KV cells kept for depth-1 entries, as a share of the context (TahContext's default, named here to size memory). */
const iterationHeadroom = 0.5;

/** A model serving one role, in a context of its own. */
interface Role {
    model: TahModel;
    context: TahContext;
    summary: ModelSummary;
    /** The generation sequences, spread over concurrent requests; undefined with one (sequence 0, shared in turn). */
    slots: SlotPool | undefined;
}

interface Loaded {
    settings: EngineSettings;
    chat: Role;
    completion: Role;
    /** Which completion sequence holds which document's KV. */
    documents: CompletionSequencePool;
    /** Suffix tokens a PSM prompt carries: what this machine prefills in psmSuffixMs (measured at warm-up). */
    psmSuffixTokens: number;
}

export interface EngineLogger {
    (level: "debug" | "info" | "warn" | "error", message: string): void;
}

/**
 * Room kept for the answer when fitting the prompt: what was asked for, but never more than half the context, so a
 * generous answer budget does not squeeze the prompt out (the answer then ends where the context does).
 */
function answerReserve(maxTokens: number, contextSize: number): number {
    return Math.min(maxTokens, Math.floor(contextSize / 2));
}

/**
 * A PSM prompt re-evaluates its suffix whenever the cursor's line changes (a new line, a jump): it carries as many
 * suffix tokens as this machine prefills in this long (measured at warm-up), within the bounds below;
 * psmSuffixDefault until the measurement is in.
 */
const psmSuffixMs = 120;
const psmSuffixBounds = { min: 16, max: 512 } as const;
const psmSuffixDefault = 64;
/** Tokens the warm-up prefills to measure the speed (after a first pass that touches every weight). */
const warmUpTokens = 32;

/** Chat sampling: the reference's evaluation settings for TaH models, under the request's own choices. */
function chatSamplingOf(requested: ChatParams["sampling"]): SamplingOptions {
    return {
        temperature: requested?.temperature ?? referenceSampling.temperature,
        topK: requested?.topK ?? referenceSampling.topK,
        topP: requested?.topP ?? referenceSampling.topP,
        minP: referenceSampling.minP,
        seed: requested?.seed ?? Math.floor(Math.random() * 0x1_0000_0000)
    };
}

/**
 * Whether each prompt token iterated, when asked: known only if the whole prompt was evaluated by this request
 * (nothing came from the cache, which another request on the sequence could have refilled in between).
 */
function promptIterated(asked: boolean | undefined, summary: GenerationSummary): { promptIterated?: boolean[] } {
    if (asked !== true || summary.reusedTokens > 0 || summary.promptRecords.length !== summary.promptTokens)
        return {};
    return { promptIterated: summary.promptRecords.map((record) => record.iterated) };
}

/** What the engine process does, independent of how requests reach it. */
export class EngineService {
    private patched: PatchedLlama | undefined;
    private loaded: Loaded | undefined;
    /** Every context's native steps, in turn: completions go before waiting chat and analysis steps. */
    private readonly steps = new StepQueue();
    private readonly stats: Required<EngineStats> & { decodeMs: number } = { generatedTokens: 0, iteratedTokens: 0, tokensPerSecond: null, depthSum: 0, decodeMs: 0 };

    constructor(private readonly log: EngineLogger) {}

    private require(): Loaded {
        if (this.loaded === undefined)
            throw new EngineError("noModel", "no model is loaded");
        return this.loaded;
    }

    private async llamaFor(gpu: EngineSettings["gpu"]): Promise<PatchedLlama> {
        // one native binary per process: a different backend needs a new engine process
        if (this.patched !== undefined) {
            if (gpu !== "auto" && gpu !== this.patched.requested && gpu !== this.patched.gpu)
                throw new EngineError("invalidRequest", `this engine process runs the ${this.patched.gpu} build; restart it to switch to ${gpu}`);
            return this.patched;
        }
        try {
            this.patched = await loadPatchedLlama({
                gpu: gpu,
                logger: (level, message) => this.log(noisy.test(message) ? "debug" : logLevelOf(level), message.trimEnd())
            });
        } catch (error) {
            // whatever fails here without a more precise code of its own is a problem of the native build
            if (engineErrorCodeOf(error) === "internal")
                throw new EngineError("nativeBuild", error instanceof Error ? error.message : String(error), { cause: error });
            throw error;
        }
        return this.patched;
    }

    async load(settings: EngineSettings, onProgress: (fraction: number, stage: string) => void, signal: AbortSignal): Promise<LoadedModels> {
        await this.unload();
        let lastReported = -1;
        let lastStage = "";
        const report = (fraction: number, stage: string): void => {
            // node-llama-cpp reports per tensor; the host needs a handful of updates, not thousands
            if (fraction - lastReported >= 0.05 || fraction >= 1 || stage !== lastStage) {
                lastReported = fraction;
                lastStage = stage;
                onProgress(fraction, stage);
            }
        };
        report(0, "loading the native build");
        const patched = await this.llamaFor(settings.gpu);
        const completionPath = settings.completionModelPath ?? settings.modelPath;
        const shared = path.resolve(completionPath) === path.resolve(settings.modelPath);
        // loading takes 0.05–0.85 of the progress, the warm-up the rest
        const share = shared ? 0.8 : 0.4;
        const models: TahModel[] = [];
        try {
            report(0.05, "loading the model");
            const chatModel = await TahModel.load(patched, settings.modelPath, { signal, onProgress: (fraction) => report(0.05 + share * fraction, "loading the model") });
            models.push(chatModel);
            const completionModel = shared ? chatModel : await TahModel.load(patched, completionPath, {
                signal, onProgress: (fraction) => report(0.45 + share * fraction, "loading the completion model")
            });
            if (!shared)
                models.push(completionModel);
            const threads = settings.threads > 0 ? settings.threads : patched.llama.cpuMathCores;
            const parallel = settings.parallel ?? 1;
            const chat = await this.role(chatModel, settings.modelPath, settings, threads, "background", parallel, 1);
            // under tah serve --parallel the completion sequences are request slots; in the extension, one per recent document
            const documents = parallel > 1 ? 1 : fileSequenceCount(this.kvBytesPerSequence(completionModel, settings.contextSize));
            const completion = await this.role(completionModel, completionPath, settings, threads, "interactive", parallel, documents - 1);
            completion.summary.documentSequences = documents;
            const loaded: Loaded = { settings, chat, completion, documents: new CompletionSequencePool(documents), psmSuffixTokens: psmSuffixDefault };
            const warmShare = shared ? 0.15 : 0.075;
            report(0.85, "warming up");
            loaded.psmSuffixTokens = await this.warmUp(completion, this.threshold(settings), true, signal, (fraction) => report(0.85 + warmShare * fraction, "warming up"));
            if (!shared)
                await this.warmUp(chat, this.threshold(settings), false, signal, (fraction) => report(0.925 + warmShare * fraction, "warming up the chat model"));
            this.loaded = loaded;
            report(1, "ready");
            for (const [name, role] of [["chat", chat], ["completion", completion]] as const)
                this.log("info", `loaded ${role.summary.name} (${role.summary.kind}) for ${name} on ${role.summary.backend} with ${threads} threads, ${((role.summary.memory?.kvCacheBytes ?? 0) / (1 << 20)).toFixed(0)} MiB of KV cache`);
            this.log("info", `completions keep the KV of ${documents} document(s), FIM order ${preferredFimOrder(fimOrdersOf(completionModel.llamaModel.fileInfo.metadata))}`);
            return { chat: chat.summary, completion: completion.summary };
        } catch (error) {
            // disposing a model disposes the contexts made on it
            await Promise.all(models.map((model) => model.dispose()));
            throw error;
        }
    }

    /** KV bytes of one sequence of a context on `model` (its depth-1 headroom included), when the metadata tells. */
    private kvBytesPerSequence(model: TahModel, contextSize: number): number | undefined {
        const perCell = modelKvBytesPerCell(model, "f16");
        return perCell === 0 ? undefined : perCell * kvCellsPerSequence(model, contextSize, iterationHeadroom);
    }

    /**
     * Touches every weight of a role's model (the file is mapped, not read: the first evaluation otherwise pays for
     * every page) with a pass where every token iterates, so LoRA and decider are read too; part of the load, with its
     * progress, so the first suggestion costs what the hundredth does. For the completion model it then measures the
     * prefill speed and returns the PSM suffix size it sets.
     */
    private async warmUp(role: Role, threshold: number | undefined, measure: boolean, signal: AbortSignal, onProgress: (fraction: number) => void): Promise<number> {
        const sequence = role.context.sequence(0);
        const began = performance.now();
        const text = "function warmUp(values) {\n    return values.map((value) => value * 2);\n}\n".repeat(8);
        const tokens = role.model.tokenize(text).slice(0, warmUpTokens);
        await sequence.evaluate(tokens.slice(0, 4), { threshold: 0, keep: 0, signal });
        onProgress(measure ? 0.5 : 1);
        let suffixTokens = psmSuffixDefault;
        if (measure) {
            const touched = performance.now();
            await sequence.evaluate(tokens, { threshold, keep: 0, signal });
            const msPerToken = (performance.now() - touched) / tokens.length;
            suffixTokens = Math.round(Math.min(psmSuffixBounds.max, Math.max(psmSuffixBounds.min, psmSuffixMs / msPerToken)));
            this.log("info", `warmed up ${role.summary.name} in ${(performance.now() - began).toFixed(0)} ms; prefill ${msPerToken.toFixed(2)} ms per token, so PSM prompts carry ${suffixTokens} suffix tokens`);
        } else {
            this.log("info", `warmed up ${role.summary.name} in ${(performance.now() - began).toFixed(0)} ms`);
        }
        await sequence.truncate(0);
        onProgress(1);
        return suffixTokens;
    }

    private async role(model: TahModel, modelPath: string, settings: EngineSettings, threads: number, priority: StepPriority, parallel: number, extraSequences: number): Promise<Role> {
        const sequences = parallel + extraSequences;
        const context = await TahContext.create(model, { sequences, contextSize: settings.contextSize, threads, steps: this.steps, priority, iterationHeadroom });
        const summary: ModelSummary = {
            name: model.name,
            kind: model.kind,
            path: modelPath,
            backend: model.patched.gpu,
            threads,
            contextSize: settings.contextSize,
            threshold: model.kind === "tah" ? settings.threshold ?? model.defaultThreshold : null,
            hasFim: model.fimTokens !== undefined,
            hasChatTemplate: model.chatTemplate !== undefined,
            vocabularySize: model.vocabularySize,
            memory: modelMemory(model, context)
        };
        return { model, context, summary, slots: parallel > 1 ? new SlotPool(parallel, maxWaitingForSlot) : undefined };
    }

    /**
     * When a request asks whether each prompt token iterated: the sequence's cache is dropped first (a token taken from
     * the cache is not evaluated again, so its pass would be unknown) and every prompt position is recorded.
     */
    private async promptRecordsFrom(sequence: TahSequence, asked: boolean | undefined, signal: AbortSignal): Promise<{ promptRecordsFrom?: number }> {
        if (asked !== true)
            return {};
        await sequence.evaluate([], { keep: 0, signal });
        return { promptRecordsFrom: 0 };
    }

    /** A generation sequence of the role for one request: its own under --parallel, else sequence 0 in turn. */
    private slotOf(role: Role, signal: AbortSignal): Promise<Slot> {
        return role.slots === undefined ? Promise.resolve({ index: 0, release: () => undefined }) : role.slots.acquire(signal);
    }

    async unload(): Promise<void> {
        const loaded = this.loaded;
        this.loaded = undefined;
        if (loaded !== undefined)
            await Promise.all([...new Set([loaded.chat.model, loaded.completion.model])].map((model) => model.dispose()));
    }

    private threshold(settings: EngineSettings): number | undefined {
        return settings.threshold ?? undefined;
    }

    private account(summary: GenerationSummary): void {
        this.stats.generatedTokens += summary.generatedTokens;
        this.stats.iteratedTokens += summary.iteratedTokens;
        this.stats.depthSum += summary.depthSum;
        this.stats.decodeMs += summary.decodeMs;
        if (this.stats.decodeMs > 0)
            this.stats.tokensPerSecond = (this.stats.generatedTokens / this.stats.decodeMs) * 1000;
    }

    async complete(params: CompletionParams, onToken: (token: TokenView) => void, signal: AbortSignal): Promise<CompletionResult> {
        const loaded = this.require();
        const { model, context } = loaded.completion;
        const budget = loaded.settings.contextSize - answerReserve(params.maxTokens, loaded.settings.contextSize);
        const prompt = buildCompletionPrompt(model, params.prefix, params.suffix, budget, { maxSuffixTokens: loaded.psmSuffixTokens });
        const slot = loaded.completion.slots !== undefined
            ? await this.slotOf(loaded.completion, signal)
            : { index: loaded.documents.sequenceFor(params.document ?? ""), release: () => undefined };
        const promptRecordsFrom = await this.promptRecordsFrom(context.sequence(slot.index), params.promptIterations, signal).catch((error: unknown) => {
            slot.release();
            throw error;
        });
        const stops = { maxLines: params.maxLines, ...(params.stopBelowIndent !== undefined ? { stopBelowIndent: params.stopBelowIndent } : {}) };

        const tokens: TokenView[] = [];
        let text = "";
        const summary = await context.sequence(slot.index).generateEach(prompt.tokens, {
            ...promptRecordsFrom,
            maxTokens: Math.min(params.maxTokens, loaded.settings.contextSize - prompt.tokens.length),
            sampling: greedy,
            threshold: this.threshold(loaded.settings),
            maxDecodeMs: params.maxMs,
            isStopToken: (token) => model.isMarkupToken(token),
            isDone: (generated) => keptLines(generated, stops).done,
            // the newest keystroke's completion is the one that counts: older ones still waiting are dropped (with
            // parallel sequences each request has one of its own, and nothing waits for it)
            supersedesWaiting: true,
            signal
        }, (generated) => {
            text += generated.text;
            const view = tokenView(model, generated.token, generated.text, generated.record);
            tokens.push(view);
            onToken(view);
        }).finally(slot.release);
        this.account(summary);
        if (summary.stopReason === "done") {
            // the last token ran past the line limit or out of the block: keep the text up to it
            const kept = text.split("\n").slice(0, keptLines(text, stops).lines).join("\n");
            const last = tokens[tokens.length - 1];
            last.text = last.text.slice(0, Math.max(0, last.text.length - (text.length - kept.length)));
            if (last.text === "")
                tokens.pop();
            text = kept;
        }
        const stopReason: CompletionResult["stopReason"] = summary.stopReason === "stopToken" ? "special" : summary.stopReason === "done" ? "maxLines" : summary.stopReason;
        return {
            text,
            tokens,
            stopReason,
            promptTokens: prompt.tokens.length,
            reusedTokens: summary.reusedTokens,
            mode: prompt.mode,
            ...(prompt.order !== undefined ? { order: prompt.order } : {}),
            prefillMs: summary.prefillMs,
            decodeMs: summary.decodeMs,
            stats: this.status().stats,
            ...promptIterated(params.promptIterations, summary)
        };
    }

    async chat(params: ChatParams, onToken: (token: TokenView) => void, signal: AbortSignal): Promise<ChatResult> {
        const loaded = this.require();
        const { model, context } = loaded.chat;
        const prompt = buildChatPrompt(model, params.messages, loaded.settings.contextSize - answerReserve(params.maxTokens, loaded.settings.contextSize), params.enableThinking);
        let text = "";
        const slot = await this.slotOf(loaded.chat, signal);
        const promptRecordsFrom = await this.promptRecordsFrom(context.sequence(slot.index), params.promptIterations, signal).catch((error: unknown) => {
            slot.release();
            throw error;
        });
        const summary = await context.sequence(slot.index).generateEach(prompt.tokens, {
            ...promptRecordsFrom,
            maxTokens: Math.min(params.maxTokens, loaded.settings.contextSize - prompt.tokens.length),
            sampling: chatSamplingOf(params.sampling),
            threshold: this.threshold(loaded.settings),
            renderSpecialTokens: true,
            signal
        }, (generated) => {
            text += generated.text;
            onToken(tokenView(model, generated.token, generated.text, generated.record));
        }).finally(slot.release);
        this.account(summary);
        return {
            text,
            stopReason: summary.stopReason,
            promptTokens: prompt.tokens.length,
            reusedTokens: summary.reusedTokens,
            droppedMessages: prompt.droppedMessages,
            generatedTokens: summary.generatedTokens,
            iteratedTokens: summary.iteratedTokens,
            tokensPerSecond: summary.decodeMs > 0 ? (summary.generatedTokens / summary.decodeMs) * 1000 : 0,
            stats: this.status().stats,
            ...promptIterated(params.promptIterations, summary)
        };
    }

    /** Tokens of a text under the model's tokenizer, for callers that budget prompts (VS Code's Chat). */
    tokenCount(params: TokenCountParams): TokenCountResult {
        const loaded = this.require();
        // tokenizing is synchronous: only as much as the context could ever hold, the rest at its fewest possible tokens
        const head = params.text.slice(0, loaded.settings.contextSize * charsPerTokenBound);
        const rest = params.text.length - head.length;
        return { tokens: loaded.chat.model.tokenize(head).length + Math.ceil(rest / charsPerTokenBound), exact: rest === 0 };
    }

    async analyze(params: AnalyzeParams, signal: AbortSignal): Promise<AnalyzeResult> {
        const loaded = this.require();
        const { model, context } = loaded.chat;
        const started = performance.now();
        // tokenize only what can fit: a token is rarely longer than this many characters
        const text = params.text.slice(0, loaded.settings.contextSize * charsPerTokenBound);
        const all = model.tokenize(text);
        const tokens = all.slice(0, loaded.settings.contextSize);
        if (tokens.length === 0)
            return { tokens: [], truncated: false, ms: 0 };
        const result = await context.sequence(analysisSequenceOf(loaded.settings.parallel ?? 1)).evaluate(tokens, { threshold: this.threshold(loaded.settings), recordFrom: 0, keep: 0, signal });
        return { tokens: analyzedTokens(model, tokens, result.records), truncated: tokens.length < all.length || text.length < params.text.length, ms: performance.now() - started };
    }

    /** Converts a TaH checkpoint (tah convert), with llama.cpp's quantizer from this process's native build. */
    async convert(params: ConvertParams, onProgress: (fraction: number, stage: string) => void, signal: AbortSignal): Promise<ConvertResultView> {
        if (!isOutputTypeName(params.type))
            throw new EngineError("invalidRequest", `unknown type "${params.type}"`);
        const patched = await this.llamaFor(this.loaded?.settings.gpu ?? "cpu");
        const result = await convertCheckpoint({
            checkpointDir: params.checkpointDir,
            outDir: params.outDir,
            type: params.type,
            force: params.force,
            signal,
            quantize: (input, output, options) => patched.bindings.tahQuantize(input, output, options),
            onProgress: (progress) => onProgress(progress.stage === "done" ? 1 : progress.stage === "backbone" ? 0.1 + 0.6 * (progress.fraction ?? 0) : stageFraction[progress.stage], progress.message)
        });
        return { outDir: result.outDir, type: result.type, files: result.files.map((file) => ({ name: file.name, bytes: file.bytes })) };
    }

    status(): StatusResult {
        const { generatedTokens, iteratedTokens, tokensPerSecond, depthSum } = this.stats;
        const loaded = this.loaded;
        return { models: loaded === undefined ? null : { chat: loaded.chat.summary, completion: loaded.completion.summary }, stats: { generatedTokens, iteratedTokens, tokensPerSecond, depthSum } };
    }

    async dispose(): Promise<void> {
        await this.unload();
        await this.patched?.llama.dispose();
        this.patched = undefined;
    }
}
