/**
 * The typing replay on plain llama.cpp: node-llama-cpp's own prebuilt binary on the TaH model's backbone GGUF, given
 * the requests the TaH engine received, with the same prompt (builder, FIM order and budgets), the same reuse of the
 * KV of the longest common prefix, greedy decoding, and exactly as many generated tokens as the TaH engine generated
 * for each request (the two models draw different tokens, so their own stops would end them at different points).
 * What TaH's engine adds on top of llama.cpp is then the difference between the two replays.
 */
import { readFileSync } from "node:fs";
import { type ControlledEvaluateInputItem, getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import type { FimTokens } from "../../src/engine/model/TahModel.js";
import { buildCompletionPrompt } from "../../src/engine/prompts/completionPrompt.js";
import type { CompletionParams } from "../../src/engine/protocol/engineProtocol.js";
import type { ReplayBaselineRequest, ReplayBaselineResult } from "../benchTypes.js";

const request = JSON.parse(readFileSync(process.argv[2], "utf8")) as ReplayBaselineRequest;
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false, maxThreads: request.threads });
const model = await llama.loadModel({ modelPath: request.modelPath, gpuLayers: 0 });
// flash attention as the engine's contexts have it: "auto", which llama.cpp resolves to on for the CPU backend
const context = await model.createContext({ contextSize: request.contextSize, sequences: 1, threads: request.threads, batchSize: 128, flashAttention: true });
const sequence = context.getSequence();

const ggml = (model.fileInfo.metadata.tokenizer as { ggml?: Record<string, unknown> } | undefined)?.ggml ?? {};
const fimToken = (key: string): number | undefined => typeof ggml[key] === "number" ? ggml[key] : undefined;
const [prefix, suffix, middle] = [fimToken("fim_pre_token_id"), fimToken("fim_suf_token_id"), fimToken("fim_mid_token_id")];
const fimTokens: FimTokens | undefined = prefix !== undefined && suffix !== undefined && middle !== undefined ? { prefix, suffix, middle } : undefined;
const promptModel = { fimTokens, tokenize: (text: string): number[] => model.tokenize(text), llamaModel: model };

const withNext = (tokens: readonly number[]): ControlledEvaluateInputItem[] =>
    tokens.map((token, i) => (i === tokens.length - 1 ? [token as Token, { generateNext: { token: true } }] : token as Token));

function commonPrefix(a: readonly number[], b: readonly number[]): number {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i])
        i++;
    return i;
}

let order = "";
/** One request as the TaH engine serves it; its time from the start, and to its first token. */
async function complete(params: CompletionParams, generatedTokens: number): Promise<{ ms: number; firstMs: number | undefined; evaluatedShare: number }> {
    const began = performance.now();
    const budget = request.contextSize - Math.min(params.maxTokens, Math.floor(request.contextSize / 2));
    const prompt = buildCompletionPrompt(promptModel, params.prefix, params.suffix, budget, { maxSuffixTokens: request.maxSuffixTokens });
    order = prompt.order ?? prompt.mode;
    const held = sequence.contextTokens;
    const reused = Math.min(commonPrefix(held, prompt.tokens), prompt.tokens.length - 1);
    if (reused < sequence.nextTokenIndex)
        await sequence.eraseContextTokenRanges([{ start: reused, end: sequence.nextTokenIndex }]);
    const prefill = await sequence.controlledEvaluate(withNext(prompt.tokens.slice(reused)));
    let next = prefill[prefill.length - 1]?.next.token ?? null;
    let firstMs: number | undefined;
    const generated: Token[] = [];
    while (next !== null && generated.length < generatedTokens) {
        generated.push(next);
        firstMs ??= performance.now() - began;
        // detokenized as the engine does for each token it streams
        model.detokenize(generated);
        if (generated.length >= generatedTokens)
            break;
        const step = await sequence.controlledEvaluate(withNext([next]));
        next = step[0]?.next.token ?? null;
    }
    return { ms: performance.now() - began, firstMs, evaluatedShare: 1 - reused / prompt.tokens.length };
}

await complete(request.priming, 1);
const result: ReplayBaselineResult = { buildType: llama.buildType, order, latencies: [], firstTokenLatencies: [], evaluatedShares: [] };
for (const { params, generatedTokens } of request.requests) {
    const timed = await complete(params, generatedTokens);
    result.latencies.push(timed.ms);
    if (timed.firstMs !== undefined)
        result.firstTokenLatencies.push(timed.firstMs);
    result.evaluatedShares.push(timed.evaluatedShare);
}
await context.dispose();
await model.dispose();
await llama.dispose();
console.log(JSON.stringify(result));
