/**
 * Inline completion latency through the real path: the engine process (dist/engine.mjs) over its protocol, the
 * completion service with its cache, and KV reuse in the engine — while replaying the typing of a real source file.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { InlineCompletionService, type InlineCompletionSettings } from "../src/completion/InlineCompletionService.js";
import { packageRoot } from "../src/engine/native/buildIdentity.js";
import { EngineClient } from "../src/engineClient/EngineClient.js";
import { sourceText } from "./benchPrompts.js";

export interface ReplayResult {
    model: string;
    keystrokes: number;
    engineRequests: number;
    cacheHits: number;
    skipped: number;
    /** From the end of the debounce to the suggestion, engine requests only (ms). */
    latencies: number[];
    /** From the end of the debounce to the first streamed token (ms). */
    firstTokenLatencies: number[];
    /** Client-side time of a request minus the engine's own prefill and decode time (ms). */
    overheads: number[];
    reusedShare: number;
    rssBytes: number | undefined;
}

/** A short window and budget, as a CPU user would set them: the replay measures the path, not a long prompt. */
const settings: InlineCompletionSettings = {
    debounceMs: 0, adaptiveDebounce: false, maxTokens: 16, maxMs: 500, multiline: "auto", maxLines: 4, maxLineSuffix: 8,
    prefixLines: 24, suffixLines: 4, maxPrefixChars: 4000, maxSuffixChars: 1000, hardTokenPolicy: "off", hardTokenThreshold: 0.9, cacheSize: 250
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

export async function replayTyping(modelPath: string, threads: number, keystrokes: number, log: (message: string) => void): Promise<ReplayResult> {
    const client = new EngineClient({ enginePath: path.join(packageRoot(), "dist", "engine.mjs"), log: (level, message) => level === "error" ? log(message) : undefined });
    try {
        await client.load({ modelPath, completionModelPath: null, gpu: "cpu", threads, contextSize: 2048, threshold: null });
        const service = new InlineCompletionService((params, options) => client.request("complete", params, options), () => settings);
        const file = sourceText();
        // type whole lines from the middle of the file, character by character, with the rest of the file after them
        // (the cursor then sits at a line's end, where automatic suggestions are made)
        const start = file.indexOf("\n", Math.floor(file.length / 3)) + 1;
        const end = file.indexOf("\n", start + keystrokes);
        const result: ReplayResult = {
            model: path.basename(modelPath), keystrokes: end - start, engineRequests: 0, cacheHits: 0, skipped: 0,
            latencies: [], firstTokenLatencies: [], overheads: [], reusedShare: 0, rssBytes: undefined
        };
        let reused = 0;
        let prompt = 0;
        for (let typed = 1; typed <= end - start; typed++) {
            const text = file.slice(0, start + typed) + file.slice(end);
            let firstToken: number | undefined;
            const began = performance.now();
            const outcome = await service.provide({ text, offset: start + typed, trigger: "automatic", signal: new AbortController().signal }, (event) => {
                if (event.kind === "token" && firstToken === undefined)
                    firstToken = performance.now() - began;
            });
            if (outcome.source === "cache") {
                result.cacheHits++;
            } else if (outcome.source === "skipped") {
                result.skipped++;
            } else if (outcome.result !== undefined && outcome.latencyMs !== undefined) {
                result.engineRequests++;
                result.latencies.push(outcome.latencyMs);
                if (firstToken !== undefined)
                    result.firstTokenLatencies.push(firstToken);
                result.overheads.push(outcome.latencyMs - outcome.result.prefillMs - outcome.result.decodeMs);
                reused += outcome.result.reusedTokens;
                prompt += outcome.result.promptTokens;
            }
        }
        result.reusedShare = prompt > 0 ? reused / prompt : 0;
        result.rssBytes = rssOf(client.pid);
        return result;
    } finally {
        client.dispose();
    }
}
