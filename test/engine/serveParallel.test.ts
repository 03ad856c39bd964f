/**
 * `tah serve --parallel 3` on the shipped default model (CPU, one thread): concurrent requests are served at once,
 * each on a sequence of its own in the role's context, first come first served, and each greedy answer is exactly
 * what the same request gets alone. Overlap and fairness are read from the order in which answer chunks arrive,
 * never from timings.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { EngineService } from "../../src/engine/service/EngineService.js";
import { startServer, type RunningServer } from "../../src/server/serverApp.js";
import { testGpu } from "./engineHarness.js";

const modelDir = path.resolve(import.meta.dirname, "..", "..", "models", "tah-code-default");
const model = "tah-code-default";
const parallel = 3;

let service: EngineService;
let server: RunningServer;
let client: OpenAI;

before(async () => {
    service = new EngineService(() => undefined);
    await service.load({ modelPath: modelDir, completionModelPath: null, gpu: testGpu, threads: 1, contextSize: 512, threshold: null, parallel }, () => undefined, new AbortController().signal);
    server = await startServer(service, {
        host: "127.0.0.1", port: 0, modelName: model, parallel,
        limits: { maxBodyBytes: 256 * 1024, maxTokens: 256, defaultMaxTokens: 32, maxDecodeMs: 60_000, queueSize: 8 },
        log: () => undefined
    });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
});

after(async () => {
    await server.close();
    await service.dispose();
});

/** Every answer chunk of the requests of one test, in the order they arrived: [request, text]. */
type Arrivals = Array<[string, string]>;

async function streamedCompletion(name: string, prompt: string, maxTokens: number, arrivals: Arrivals): Promise<string> {
    const stream = await client.completions.create({ model, prompt, max_tokens: maxTokens, stream: true });
    let text = "";
    for await (const chunk of stream) {
        const piece = chunk.choices[0]?.text ?? "";
        text += piece;
        arrivals.push([name, piece]);
    }
    arrivals.push([name, "<end>"]);
    return text;
}

async function streamedChat(name: string, content: string, arrivals: Arrivals): Promise<string> {
    const stream = await client.chat.completions.create({ model, messages: [{ role: "user", content }], max_tokens: 16, temperature: 0, stream: true });
    let text = "";
    for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta.content ?? "";
        text += piece;
        arrivals.push([name, piece]);
    }
    arrivals.push([name, "<end>"]);
    return text;
}

const prompts = {
    python: "import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n        ",
    ts: "export function sum(values: number[]): number {\n    let total = 0;\n    for (const value of values) {\n        ",
    stack: "class Stack:\n    def __init__(self):\n        "
};

describe("tah serve --parallel", () => {
    test("concurrent requests run at once on sequences of their own, each answered exactly as alone", async () => {
        const alone: Record<string, string> = {};
        for (const [name, prompt] of Object.entries(prompts))
            alone[name] = await streamedCompletion(name, prompt, 24, []);
        alone.chat = await streamedChat("chat", "Reverse a string in Python.", []);

        const arrivals: Arrivals = [];
        const together = await Promise.all([
            ...Object.entries(prompts).map(async ([name, prompt]) => [name, await streamedCompletion(name, prompt, 24, arrivals)] as const),
            streamedChat("chat", "Reverse a string in Python.", arrivals).then((text) => ["chat", text] as const)
        ]);
        assert.deepEqual(Object.fromEntries(together), alone);
        for (const text of Object.values(alone))
            assert.ok(text.length > 0);
        // served at once: some request's answer began before another one's ended (one at a time, each answer's chunks
        // would come as one unbroken run)
        const firstOf = (name: string): number => arrivals.findIndex(([owner]) => owner === name);
        const endOf = (name: string): number => arrivals.findIndex(([owner, piece]) => owner === name && piece === "<end>");
        const completions = Object.keys(prompts);
        const overlapping = completions.filter((name) => completions.some((other) => other !== name && firstOf(other) < endOf(name) && firstOf(name) < endOf(other)));
        assert.ok(overlapping.length >= 2, `answers overlapped: ${JSON.stringify(arrivals.map(([owner]) => owner))}`);
    });

    test("a short request that comes after a long one is not held behind it", async () => {
        const arrivals: Arrivals = [];
        const long = streamedCompletion("long", prompts.python, 200, arrivals);
        // the long one is under way before the short one is sent
        while (!arrivals.some(([owner]) => owner === "long"))
            await new Promise((resolve) => setTimeout(resolve, 10));
        const short = streamedCompletion("short", prompts.ts, 4, arrivals);
        await Promise.all([long, short]);
        const end = (name: string): number => arrivals.findIndex(([owner, piece]) => owner === name && piece === "<end>");
        assert.ok(end("short") < end("long"), `the short answer ended first: ${JSON.stringify(arrivals.map(([owner]) => owner))}`);
    });
});
