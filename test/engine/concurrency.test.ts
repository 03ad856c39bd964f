/**
 * Overlapping, cancelled and concurrent requests on the default model, the way typing, Stop and a streaming chat
 * produce them: every completion that is not cancelled must give exactly what the same request gives alone (greedy),
 * every analysis the same tokens and decisions, and nothing may fail with anything but `aborted` (cancelled or
 * superseded) or `busy` (beyond the queue's bound, only where the trial asks for more than it holds).
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { engineErrorCodeOf, type EngineErrorCode } from "../../src/engine/protocol/EngineError.js";
import type { AnalyzeResult, CompletionParams } from "../../src/engine/protocol/engineProtocol.js";
import { EngineService } from "../../src/engine/service/EngineService.js";
import { Prng } from "../support/prng.js";
import { testGpu } from "./engineHarness.js";

const modelPath = path.resolve(import.meta.dirname, "..", "..", "models", "tah-code-default");
const trials = 40;

const source = "export function sum(values: number[]): number {\n    let total = 0;\n    for (const value of values) {\n        total += value;\n";
const suffix = "\n    }\n    return total;\n}\n";
/** What typing the snippet sends: one prefix per keystroke over its last 24 characters. */
const keystrokes = Array.from({ length: 24 }, (_, index) => source.slice(0, source.length - 23 + index));
const analyzed = "def mean(values):\n    return sum(values) / len(values)\n";

let service: EngineService;
const alone = new Map<string, string>();
let aloneAnalysis: string;

function completion(prefix: string): CompletionParams {
    return { prefix, suffix, maxTokens: 12, maxMs: 600_000, maxLines: 4, stream: false };
}

const chat = (signal: AbortSignal): Promise<unknown> =>
    service.chat({ messages: [{ role: "user", content: "Write a function that adds two numbers." }], maxTokens: 32, enableThinking: false, stream: true }, () => undefined, signal);

function analysisKey(result: AnalyzeResult): string {
    return JSON.stringify(result.tokens.map((token) => [token.token, token.iterated]));
}

interface Outcome {
    compared: number;
    wrong: string[];
    codes: Map<EngineErrorCode, number>;
}

async function settle(outcome: Outcome, request: Promise<unknown>): Promise<void> {
    try {
        await request;
    } catch (error) {
        const code = engineErrorCodeOf(error);
        outcome.codes.set(code, (outcome.codes.get(code) ?? 0) + 1);
        if (code !== "aborted" && code !== "busy")
            throw error;
    }
}

function checkedCompletion(outcome: Outcome, prefix: string, signal: AbortSignal): Promise<void> {
    return settle(outcome, service.complete(completion(prefix), () => undefined, signal).then((result) => {
        outcome.compared++;
        if (result.text !== alone.get(prefix))
            outcome.wrong.push(`${JSON.stringify(prefix.slice(-12))}: ${JSON.stringify(result.text)} (reused ${result.reusedTokens}), alone ${JSON.stringify(alone.get(prefix))}`);
    }));
}

before(async () => {
    service = new EngineService(() => undefined);
    await service.load({ modelPath, completionModelPath: null, gpu: testGpu, threads: 1, contextSize: 1024, threshold: null }, () => undefined, new AbortController().signal);
    for (const prefix of keystrokes)
        alone.set(prefix, (await service.complete(completion(prefix), () => undefined, new AbortController().signal)).text);
    aloneAnalysis = analysisKey(await service.analyze({ text: analyzed }, new AbortController().signal));
});

after(async () => {
    await service.dispose();
});

test(`${trials} trials of typing, cancels, bursts and analysis while a chat streams match the requests run alone`, async (t) => {
    const prng = new Prng(14);
    const outcome: Outcome = { compared: 0, wrong: [], codes: new Map() };
    let analysesCompared = 0;
    for (let trial = 0; trial < trials; trial++) {
        const requests: Array<Promise<void>> = [];
        const chatController = new AbortController();
        requests.push(settle(outcome, chat(chatController.signal)));
        // typing: each keystroke starts a completion while the one before is still running; some are cancelled
        const start = Math.floor(prng.uniform() * (keystrokes.length - 8));
        for (const prefix of keystrokes.slice(start, start + 8)) {
            const controller = new AbortController();
            requests.push(checkedCompletion(outcome, prefix, controller.signal));
            if (prng.uniform() < 0.3)
                queueMicrotask(() => controller.abort());
            await new Promise((resolve) => setImmediate(resolve));
        }
        // a burst: many at once, all started in the same turn of the event loop
        const burst = 2 + Math.floor(prng.uniform() * 19);
        for (let index = 0; index < burst; index++)
            requests.push(checkedCompletion(outcome, keystrokes[Math.floor(prng.uniform() * keystrokes.length)], new AbortController().signal));
        requests.push(settle(outcome, service.analyze({ text: analyzed }, new AbortController().signal).then((result) => {
            analysesCompared++;
            assert.equal(analysisKey(result), aloneAnalysis, `analysis in trial ${trial}`);
        })));
        if (prng.uniform() < 0.5)
            setImmediate(() => chatController.abort());
        await Promise.all(requests);
    }
    t.diagnostic(`${outcome.compared} completions compared, ${analysesCompared} analyses; outcomes ${JSON.stringify(Object.fromEntries(outcome.codes))}`);
    assert.deepEqual(outcome.wrong, [], `${outcome.wrong.length} of ${outcome.compared} completions differ from the same request alone`);
    assert.ok(outcome.compared >= trials, `completions ran (${outcome.compared})`);
    assert.equal(analysesCompared, trials);
    assert.equal(outcome.codes.get("busy") ?? 0, 0, "a typing burst supersedes older completions instead of filling the queue");
});

test("a thousand completions at once: the newest runs, the others end aborted, none fails", async () => {
    const outcome: Outcome = { compared: 0, wrong: [], codes: new Map() };
    const requests = Array.from({ length: 1000 }, (_, index) => checkedCompletion(outcome, keystrokes[index % keystrokes.length], new AbortController().signal));
    await Promise.all(requests);
    assert.deepEqual(outcome.wrong, []);
    assert.ok(outcome.compared >= 1, "at least the newest completion ran");
    assert.deepEqual([...outcome.codes.keys()].filter((code) => code !== "aborted"), []);
});
