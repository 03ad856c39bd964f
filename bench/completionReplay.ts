/**
 * Inline completion latency and quality through the real path: the engine process (dist/engine.mjs) over its protocol,
 * the completion service with its cache, and KV reuse in the engine — while replaying the typing of a real source file,
 * character by character, with a realistic window around the cursor. Each suggestion the engine makes is also scored
 * against what was really typed next, under each hard-token policy.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { InlineCompletionService, type InlineCompletionSettings } from "../src/completion/InlineCompletionService.js";
import { maxLinesFor } from "../src/completion/multilinePolicy.js";
import { extractContext } from "../src/completion/completionContext.js";
import { type HardTokenPolicy, postProcess } from "../src/completion/postProcess.js";
import { packageRoot } from "../src/engine/native/buildIdentity.js";
import type { CompletionParams } from "../src/engine/protocol/engineProtocol.js";
import { EngineClient } from "../src/engineClient/EngineClient.js";
import { sourceText } from "./benchPrompts.js";
import type { ReplayedRequest } from "./benchTypes.js";

export const hardTokenPolicies: readonly HardTokenPolicy[] = ["off", "truncate", "hide"];

export interface PolicyQuality {
    /** Engine suggestions shown (not held back) under the policy. */
    shown: number;
    /** Characters shown, and of those the ones that match what was typed next (up to the first mismatch). */
    shownChars: number;
    matchedChars: number;
    /** Suggestions whose first line is exactly the rest of the line that was typed. */
    firstLineExact: number;
}

export interface TypingPass {
    /** Engine requests (not cache hits, not skipped). */
    engineRequests: number;
    cacheHits: number;
    skipped: number;
    /** From the end of the debounce to the suggestion (ms). */
    latencies: number[];
    /** From the end of the debounce to the first streamed token (ms). */
    firstTokenLatencies: number[];
    /** Engine prefill / decode time, and what the protocol, process and service add (ms per request). */
    prefillMs: number[];
    decodeMs: number[];
    overheads: number[];
    /** Share of each request's prompt tokens the engine evaluated (1 − reused / prompt). */
    evaluatedShares: number[];
    promptTokens: number[];
    /** The requests as the engine received them and the tokens it generated, for the plain llama.cpp baseline to replay. */
    requests: ReplayedRequest[];
    /** The priming request when the file is opened (a cold prompt; not among the latencies), and its time. */
    priming: CompletionParams | undefined;
    primingMs: number;
    quality: Record<HardTokenPolicy, PolicyQuality>;
    order: string | undefined;
    /** Generated tokens of the typed requests that iterated (of all of them: the suggestions' tokens). */
    iteratedTokens: number;
    /** The decider's P(hard) of each generated token (what the replay's threshold is calibrated on). */
    pHard: number[];
    /** Tokens of each engine suggestion, and how many suggestions the time budget ended. */
    suggestionTokens: number[];
    deadlineStops: number;
}

export interface ReplayResult {
    model: string;
    threads: number;
    /** The decider threshold the typing ran at (null: the model's own). */
    threshold: number | null;
    keystrokes: number;
    plain: TypingPass;
    /** The same typing with a long chat held in the chat context. */
    withChat?: TypingPass;
    chatTokens?: number;
    warmUpLog: string | undefined;
    completionKvBytes: number | undefined;
    documentSequences: number | undefined;
    rssBytes: number | undefined;
}

/** A realistic window and budget for a CPU: 128 prefix lines (plus up to a stride), 32 suffix lines, single-line budgets. */
export const replaySettings: InlineCompletionSettings = {
    debounceMs: 0, adaptiveDebounce: false, maxTokens: 16, maxMs: 500, multiline: "auto", maxLines: 4, maxLineSuffix: 8,
    prefixLines: 128, suffixLines: 32, maxPrefixChars: 16000, maxSuffixChars: 4000, hardTokenPolicy: "off", hardTokenThreshold: 0.9, cacheSize: 250,
    // keystrokes come back to back here: a speculation would only be cancelled by the next one (and the baseline has none)
    speculative: false
};

/** Resident memory of a process, from /proc (Linux). */
export function rssOf(pid: number | undefined): number | undefined {
    if (pid === undefined)
        return undefined;
    try {
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        const match = /VmRSS:\s+(\d+) kB/.exec(status);
        return match ? Number(match[1]) * 1024 : undefined;
    } catch {
        return undefined;
    }
}

function commonPrefixLength(a: string, b: string): number {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i])
        i++;
    return i;
}

/**
 * Where typing starts: a line at least `prefixLines` lines in; it types whole lines (at least `keystrokes` characters),
 * so the cursor sits at a line's end, where automatic suggestions are made, with `suffixLines` lines after it.
 */
function typingSpan(file: string, keystrokes: number): { start: number; end: number } {
    const lines = file.split("\n");
    const startLine = Math.max(replaySettings.prefixLines + 8, Math.floor(lines.length / 3));
    const start = lines.slice(0, startLine).join("\n").length + 1;
    const end = file.indexOf("\n", start + keystrokes);
    if (end === -1 || file.slice(end).split("\n").length < replaySettings.suffixLines + 1)
        throw new Error("the bench's source text is too short for the replay's window");
    return { start, end };
}

function emptyQuality(): Record<HardTokenPolicy, PolicyQuality> {
    return Object.fromEntries(hardTokenPolicies.map((policy) => [policy, { shown: 0, shownChars: 0, matchedChars: 0, firstLineExact: 0 }])) as Record<HardTokenPolicy, PolicyQuality>;
}

async function typeOnce(client: EngineClient, keystrokes: number): Promise<TypingPass> {
    const requests: ReplayedRequest[] = [];
    const service = new InlineCompletionService(async (params, options) => {
        const result = await client.request("complete", params, options);
        requests.push({ params, generatedTokens: result.tokens.length });
        return result;
    }, () => replaySettings);
    const file = sourceText();
    const { start, end } = typingSpan(file, keystrokes);
    const document = "file:///bench/replay.ts";
    const pass: TypingPass = {
        engineRequests: 0, cacheHits: 0, skipped: 0, latencies: [], firstTokenLatencies: [], prefillMs: [], decodeMs: [], overheads: [],
        evaluatedShares: [], promptTokens: [], requests: [], priming: undefined, primingMs: 0, quality: emptyQuality(), order: undefined,
        iteratedTokens: 0, pHard: [], suggestionTokens: [], deadlineStops: 0
    };
    // the file is opened with the cursor where typing starts: the cold prompt is evaluated once, untimed as typing
    const primingText = file.slice(0, start) + file.slice(end);
    const primed = await service.provide({ text: primingText, offset: start, trigger: "explicit", signal: new AbortController().signal, document });
    pass.primingMs = primed.latencyMs ?? 0;
    pass.priming = requests.pop()?.params;
    requests.length = 0;
    for (let typed = 1; typed <= end - start; typed++) {
        const offset = start + typed;
        const text = file.slice(0, offset) + file.slice(end);
        let firstToken: number | undefined;
        const began = performance.now();
        const outcome = await service.provide({ text, offset, trigger: "automatic", signal: new AbortController().signal, document }, (event) => {
            if (event.kind === "token" && firstToken === undefined)
                firstToken = performance.now() - began;
        });
        if (outcome.source === "cache") {
            pass.cacheHits++;
            continue;
        }
        if (outcome.source === "skipped" || outcome.result === undefined || outcome.latencyMs === undefined) {
            pass.skipped++;
            continue;
        }
        const result = outcome.result;
        pass.engineRequests++;
        pass.order = result.order ?? result.mode;
        pass.latencies.push(outcome.latencyMs);
        if (firstToken !== undefined)
            pass.firstTokenLatencies.push(firstToken);
        pass.prefillMs.push(result.prefillMs);
        pass.decodeMs.push(result.decodeMs);
        pass.overheads.push(outcome.latencyMs - result.prefillMs - result.decodeMs);
        pass.promptTokens.push(result.promptTokens);
        pass.evaluatedShares.push(1 - result.reusedTokens / result.promptTokens);
        pass.iteratedTokens += result.tokens.filter((token) => token.iterated).length;
        pass.pHard.push(...result.tokens.map((token) => token.difficulty));
        pass.suggestionTokens.push(result.tokens.length);
        pass.deadlineStops += result.stopReason === "deadline" ? 1 : 0;

        // quality: the same raw suggestion under each policy, against what was really typed from here on
        const truth = file.slice(offset, offset + 400);
        const truthLine = truth.split("\n")[0];
        const context = extractContext(text, offset, replaySettings);
        for (const policy of hardTokenPolicies) {
            const shown = postProcess({ text: result.text, tokens: result.tokens }, {
                suffix: context.suffix, maxLines: maxLinesFor(context, replaySettings.multiline, replaySettings.maxLines),
                hardTokenPolicy: policy, hardTokenThreshold: replaySettings.hardTokenThreshold, leadingTokens: 3
            });
            if (shown === undefined)
                continue;
            const quality = pass.quality[policy];
            quality.shown++;
            quality.shownChars += shown.text.length;
            quality.matchedChars += commonPrefixLength(shown.text, truth);
            if (shown.text.split("\n")[0] === truthLine)
                quality.firstLineExact++;
        }
    }
    pass.requests = [...requests];
    return pass;
}

/** About `tokens` tokens (under the model's tokenizer) of a question about the bench's own source, as a long chat turn holds. */
async function longChat(client: EngineClient, tokens: number): Promise<string> {
    const source = sourceText();
    let chars = tokens * 3;
    for (let attempt = 0; attempt < 3; attempt++) {
        const counted = await client.request("tokenCount", { text: source.slice(0, chars) });
        chars = Math.floor(chars * tokens / Math.max(1, counted.tokens));
    }
    return `Explain this code:\n\n${source.slice(0, chars)}`;
}

export interface ReplayOptions {
    threads: number;
    keystrokes: number;
    contextSize: number;
    /**
     * The decider threshold: null for the model's own, or a share of generated tokens to iterate, calibrated on this
     * replay (a first typing pass without iterations gives every generated token's P(hard); the threshold is the
     * quantile that leaves this share above it). Random weights draw other tokens than real source, so a threshold
     * calibrated on real source would not give this share here.
     */
    threshold: null | { iterateShare: number };
    /** Hold a chat of about this many tokens and type again. */
    chatTokens?: number;
}

export async function replayTyping(modelPath: string, options: ReplayOptions, log: (message: string) => void): Promise<ReplayResult> {
    let warmUpLog: string | undefined;
    const client = new EngineClient({
        enginePath: path.join(packageRoot(), "dist", "engine.mjs"),
        log: (level, message) => {
            if (message.includes("suffix tokens"))
                warmUpLog = message.replace(/^.*warmed up/, "warmed up");
            if (level === "error")
                log(message);
        }
    });
    const settings = { modelPath, completionModelPath: null, gpu: "cpu", threads: options.threads, contextSize: options.contextSize } as const;
    try {
        let threshold: number | null = null;
        if (options.threshold !== null) {
            await client.load({ ...settings, threshold: 1 });
            const uncalibrated = await typeOnce(client, options.keystrokes);
            const pHard = [...uncalibrated.pHard].sort((a, b) => a - b);
            const at = Math.min(pHard.length - 1, Math.floor(pHard.length * (1 - options.threshold.iterateShare)));
            threshold = (pHard[Math.max(0, at - 1)] + pHard[at]) / 2;
            log(`replay threshold for ~${(options.threshold.iterateShare * 100).toFixed(0)}% of generated tokens iterated: ${threshold.toFixed(4)} (from ${pHard.length} tokens)`);
        }
        const loaded = await client.load({ ...settings, threshold });
        const plain = await typeOnce(client, options.keystrokes);
        const result: ReplayResult = {
            model: path.basename(modelPath), threads: options.threads, threshold, keystrokes: plain.engineRequests + plain.cacheHits + plain.skipped, plain, warmUpLog,
            completionKvBytes: loaded.completion.memory?.kvCacheBytes, documentSequences: loaded.completion.documentSequences, rssBytes: rssOf(client.pid)
        };
        if (options.chatTokens !== undefined) {
            const chat = await client.request("chat", { messages: [{ role: "user", content: await longChat(client, options.chatTokens) }], maxTokens: 16, enableThinking: false, stream: false });
            result.chatTokens = chat.promptTokens;
            log(`holding a chat of ${chat.promptTokens} tokens; typing again`);
            result.withChat = await typeOnce(client, options.keystrokes);
            result.rssBytes = rssOf(client.pid);
        }
        result.warmUpLog = warmUpLog;
        return result;
    } finally {
        client.dispose();
    }
}
