/** The TaH engine on the same backbone: decode and prefill at each threshold, with the per-step breakdown. */
import { readFileSync } from "node:fs";
import { TahContext } from "../../src/engine/evaluator/TahContext.js";
import type { StepTimings } from "../../src/engine/evaluator/TahSequence.js";
import { TahModel } from "../../src/engine/model/TahModel.js";
import { loadPatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { promptTokens } from "../benchPrompts.js";
import type { StepBreakdown, WorkerRequest, WorkerResult } from "../benchTypes.js";

const request = JSON.parse(readFileSync(process.argv[2], "utf8")) as WorkerRequest;
const patched = await loadPatchedLlama({ gpu: "cpu" });
const model = await TahModel.load(patched, request.modelPath);
const prompt = promptTokens((text) => model.tokenize(text), request.prefillTokens);

function breakdown(total: StepTimings, steps: number): StepBreakdown {
    const per = (ms: number): number => ms / steps;
    const known = total.depth0Ms + total.deciderMs + total.selectMs + total.loraMs + total.depth1Ms + total.sampleMs;
    return {
        depth0Ms: per(total.depth0Ms), deciderMs: per(total.deciderMs), selectMs: per(total.selectMs), loraMs: per(total.loraMs),
        depth1Ms: per(total.depth1Ms), sampleMs: per(total.sampleMs), otherMs: per(total.wallMs - known)
    };
}

// warm-up: the first evaluation of a process pays for page faults and buffer allocation
{
    const context = await TahContext.create(model, { sequences: 1, contextSize: 256, threads: request.threads, batchSize: 512, iterationHeadroom: 1, flashAttention: false });
    await context.sequence(0).prefill(prompt.slice(0, 64), { threshold: 0 });
    await context.dispose();
}

const samples: WorkerResult["samples"] = [];
let pHards: number[] = [];
for (const threshold of request.thresholds ?? []) {
    pHards = [];
    const context = await TahContext.create(model, {
        sequences: 2, contextSize: request.prefillTokens + request.decodeTokens + 64, threads: request.threads,
        batchSize: 512, iterationHeadroom: 1, flashAttention: false
    });
    // prefill, as a plain prefill would: one call, nothing recorded but the last position
    const prefillStart = performance.now();
    const prefill = await context.sequence(0).prefill(prompt, { threshold, recordFrom: prompt.length - 1 });
    const prefillMs = performance.now() - prefillStart;
    // as the baseline disposes its prefill sequence: one KV buffer holds every sequence (the depth dimension needs a
    // unified cache), so cells left here would widen every later decode's attention window
    await context.sequence(0).truncate(0);

    // decode one token per step, fed from the source text (teacher forcing): the same work per token as generating,
    // on real code, so P(hard) varies as it would (a random model's own output repeats itself)
    const sequence = context.sequence(1);
    await sequence.prefill(prompt.slice(0, 16), { threshold, recordTopN: 5 });
    let iterated = 0;
    const total: StepTimings = { depth0Ms: 0, deciderMs: 0, selectMs: 0, loraMs: 0, depth1Ms: 0, sampleMs: 0, wallMs: 0 };
    const decodeStart = performance.now();
    for (let step = 0; step < request.decodeTokens; step++) {
        const result = await sequence.evaluate([prompt[16 + step]], { threshold, recordTopN: 5 });
        pHards.push(result.records[0]?.pHard ?? 0);
        iterated += result.iterated;
        for (const key of Object.keys(total) as Array<keyof StepTimings>)
            total[key] += result.timings[key];
    }
    const decodeMs = performance.now() - decodeStart;
    samples.push({
        threshold,
        decodeTps: request.decodeTokens / (decodeMs / 1000),
        prefillTps: prompt.length / (prefillMs / 1000),
        iteratedShare: iterated / request.decodeTokens,
        prefillIteratedShare: prefill.iterated / prompt.length,
        breakdown: breakdown(total, request.decodeTokens)
    });
    await context.dispose();
}

const result: WorkerResult = { kind: "tah", buildType: patched.llama.buildType, samples, rssBytes: process.memoryUsage().rss, decodePHard: pHards };
await model.dispose();
await patched.llama.dispose();
console.log(JSON.stringify(result));
