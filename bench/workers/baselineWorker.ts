/**
 * The baseline: node-llama-cpp's own unpatched prebuilt binary on the same backbone GGUF, decoding greedily and
 * prefilling, with the same thread count. A separate process, so its binary never meets the patched one.
 */
import { readFileSync } from "node:fs";
import { type ControlledEvaluateInputItem, getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { promptTokens } from "../benchPrompts.js";
import type { WorkerRequest, WorkerResult } from "../benchTypes.js";

const request = JSON.parse(readFileSync(process.argv[2], "utf8")) as WorkerRequest;
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false, maxThreads: request.threads });
const model = await llama.loadModel({ modelPath: request.modelPath, gpuLayers: 0 });
const context = await model.createContext({ contextSize: 2 * (request.prefillTokens + request.decodeTokens + 64), sequences: 3, threads: request.threads, batchSize: 512, flashAttention: false });

const prompt = promptTokens((text) => model.tokenize(text), request.prefillTokens) as Token[];

// logits for the last token only, and the next token drawn from them, as generation does
const withNext = (tokens: Token[]): ControlledEvaluateInputItem[] =>
    tokens.map((token, i) => (i === tokens.length - 1 ? [token, { generateNext: { token: true } }] : token));

// warm-up: the first evaluation of a process pays for page faults and buffer allocation
const warmup = context.getSequence();
await warmup.controlledEvaluate(withNext(prompt.slice(0, 64)));
await warmup.dispose();

// prefill: one evaluation of the whole prompt
const prefillSequence = context.getSequence();
const prefillStart = performance.now();
await prefillSequence.controlledEvaluate(withNext(prompt));
const prefillMs = performance.now() - prefillStart;
await prefillSequence.dispose();

// decode: one token per step, fed from the source text, as the TaH worker does
const decodeSequence = context.getSequence();
await decodeSequence.controlledEvaluate(withNext(prompt.slice(0, 16)));
const decodeStart = performance.now();
for (let step = 0; step < request.decodeTokens; step++)
    await decodeSequence.controlledEvaluate(withNext([prompt[16 + step]]));
const decodeMs = performance.now() - decodeStart;

const result: WorkerResult = {
    kind: "baseline",
    buildType: llama.buildType,
    samples: [{ threshold: null, decodeTps: request.decodeTokens / (decodeMs / 1000), prefillTps: request.prefillTokens / (prefillMs / 1000), iteratedShare: 0, prefillIteratedShare: 0 }],
    rssBytes: process.memoryUsage().rss
};
await context.dispose();
await model.dispose();
await llama.dispose();
console.log(JSON.stringify(result));
