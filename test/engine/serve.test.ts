/**
 * `tah serve` on the real engine: the shipped default model (models/tah-code-default) on the patched CPU build, one
 * thread, the official openai client on loopback. Greedy completions make exact comparisons possible (stop strings,
 * streaming against not, a request alone against the same request among others); chat samples, so its checks are
 * about shape and TaH's fields. The scripted-engine tests (test/unit/serveHttp.test.ts) cover what this model cannot
 * show (tool calls). No timing assertions.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import type { CompletionParams, CompletionResult, TokenView } from "../../src/engine/protocol/engineProtocol.js";
import { EngineService } from "../../src/engine/service/EngineService.js";
import { RemoteEngineClient } from "../../src/engineClient/RemoteEngineClient.js";
import { remoteEngineSettings } from "../../src/engineHost/EngineConnection.js";
import type { ServeEngine } from "../../src/server/requestContext.js";
import { startServer, type RunningServer } from "../../src/server/serverApp.js";
import { testGpu } from "./engineHarness.js";

const modelDir = path.resolve(import.meta.dirname, "..", "..", "models", "tah-code-default");
const apiKey = "serve-test-key";
const model = "tah-code-default";
const queueSize = 8;

/** The real engine, with a gate to hold the queue and a record of how each completion call ended. */
class SpiedEngine implements ServeEngine {
    gate: Promise<void> | undefined;
    readonly endings: Array<{ code: string; tokens: number }> = [];
    private endingSeen: (() => void) | undefined;

    constructor(readonly service: EngineService) {}

    status(): ReturnType<EngineService["status"]> {
        return this.service.status();
    }

    chat(...args: Parameters<EngineService["chat"]>): ReturnType<EngineService["chat"]> {
        return this.service.chat(...args);
    }

    analyze(...args: Parameters<EngineService["analyze"]>): ReturnType<EngineService["analyze"]> {
        return this.service.analyze(...args);
    }

    tokenCount(...args: Parameters<EngineService["tokenCount"]>): ReturnType<EngineService["tokenCount"]> {
        return this.service.tokenCount(...args);
    }

    async complete(params: CompletionParams, onToken: (token: TokenView) => void, signal: AbortSignal): Promise<CompletionResult> {
        await this.gate;
        let tokens = 0;
        try {
            const result = await this.service.complete(params, (token) => { tokens++; onToken(token); }, signal);
            this.endings.push({ code: "done", tokens });
            return result;
        } catch (error) {
            this.endings.push({ code: engineErrorCodeOf(error), tokens });
            throw error;
        } finally {
            this.endingSeen?.();
        }
    }

    /** Resolves once a completion call has ended with the given code. */
    async ended(code: string): Promise<{ code: string; tokens: number }> {
        for (;;) {
            const ending = this.endings.find((candidate) => candidate.code === code);
            if (ending !== undefined)
                return ending;
            await new Promise<void>((resolve) => { this.endingSeen = resolve; });
        }
    }
}

let service: EngineService;
let engine: SpiedEngine;
let server: RunningServer;
let client: OpenAI;

before(async () => {
    service = new EngineService(() => undefined);
    await service.load({ modelPath: modelDir, completionModelPath: null, gpu: testGpu, threads: 1, contextSize: 512, threshold: null }, () => undefined, new AbortController().signal);
    engine = new SpiedEngine(service);
    server = await startServer(engine, {
        host: "127.0.0.1", port: 0, apiKey, modelName: model,
        limits: { maxBodyBytes: 256 * 1024, maxTokens: 256, defaultMaxTokens: 32, maxDecodeMs: 60_000, queueSize },
        log: () => undefined
    });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
});

after(async () => {
    await server.close();
    await service.dispose();
});

const pythonPrefix = "import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n        ";
const tsPrefix = "export function sum(values: number[]): number {\n    let total = 0;\n    for (const value of values) {\n        ";

async function complete(prompt: string, extra: Partial<OpenAI.CompletionCreateParamsNonStreaming> = {}): Promise<OpenAI.Completion> {
    return client.completions.create({ model, prompt, max_tokens: 24, ...extra });
}

/** The request llama.vscode sends to /infill (its llama-server client's payload). */
function llamaVscodeInfill(prefix: string, line: string, suffix: string): Record<string, unknown> {
    return {
        input_prefix: prefix, input_suffix: suffix, input_extra: [{ text: "def helper():\n    return 1\n", time: 0, filename: "helper.py" }], prompt: line,
        n_predict: 24, top_k: 40, top_p: 0.99, stream: false, samplers: ["top_k", "top_p", "infill"], cache_prompt: true, t_max_prompt_ms: 500, t_max_predict_ms: 2500
    };
}

async function infill(body: Record<string, unknown>): Promise<{ status: number; body: { content: string; timings: { predicted_n: number; prompt_n: number }; tokens_cached: number; usage: { iter_counts: number[] } } }> {
    const response = await fetch(`${server.url}/infill`, { method: "POST", headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: response.status, body: await response.json() as never };
}

async function metrics(): Promise<ReturnType<typeof parsePrometheusTextFormat>> {
    return parsePrometheusTextFormat(await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${apiKey}` } })).text());
}

async function queueGauge(name: string): Promise<number> {
    return Number((await metrics()).find((family) => family.name === name)?.metrics[0].value);
}

describe("tah serve on the default model", () => {
    test("chat, not streamed: an answer with usage.iter_counts and, when asked, each token's P(hard)", async () => {
        const answer = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Write a Python function that adds two numbers." }], max_tokens: 16, tah_difficulty: true } as OpenAI.ChatCompletionCreateParamsNonStreaming);
        const choice = answer.choices[0] as typeof answer.choices[0] & { tah_tokens: Array<{ p_hard: number; iterated: boolean; p_hard_is_proxy: boolean; text: string }> };
        const usage = answer.usage as unknown as { prompt_tokens: number; completion_tokens: number; iter_counts: number[] };
        assert.ok(usage.prompt_tokens > 0);
        assert.equal(choice.tah_tokens.length, usage.completion_tokens);
        assert.ok(usage.completion_tokens >= 1 && usage.completion_tokens <= 16);
        assert.deepEqual(usage.iter_counts, choice.tah_tokens.map((token) => (token.iterated ? 2 : 1)), "upstream TaH2's shape: each answer token's passes");
        assert.equal(choice.tah_tokens.map((token) => token.text).join(""), choice.message.content);
        for (const token of choice.tah_tokens) {
            assert.ok(token.p_hard >= 0 && token.p_hard <= 1);
            assert.equal(token.p_hard_is_proxy, false, "a TaH model's P(hard) comes from its decider");
        }
    });

    test("usage.prompt_iter_counts: each prompt token's passes when tah_difficulty is asked, the same when asked again", async () => {
        const ask = async (difficulty: boolean): Promise<{ prompt_tokens: number; prompt_iter_counts: number[] }> => (await client.completions.create({
            model, prompt: pythonPrefix, max_tokens: 4, ...(difficulty ? { tah_difficulty: true } : {})
        } as OpenAI.CompletionCreateParamsNonStreaming)).usage as unknown as { prompt_tokens: number; prompt_iter_counts: number[] };
        assert.deepEqual((await ask(false)).prompt_iter_counts, [], "not asked: not reported (the prompt comes from the cache)");
        // the second ask finds the same prompt cached: it must still be evaluated whole to know each token's pass
        const first = await ask(true);
        const again = await ask(true);
        assert.equal(first.prompt_iter_counts.length, first.prompt_tokens);
        assert.ok(first.prompt_iter_counts.every((passes) => passes === 1 || passes === 2));
        assert.ok(first.prompt_iter_counts.includes(2) && first.prompt_iter_counts.includes(1), JSON.stringify(first.prompt_iter_counts));
        assert.deepEqual(again.prompt_iter_counts, first.prompt_iter_counts);
    });

    test("chat, streamed: deltas and a final usage", async () => {
        const stream = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Say hello in Python." }], max_tokens: 12, stream: true, stream_options: { include_usage: true } });
        let text = "";
        let usage: { completion_tokens: number; iter_counts: number[] } | undefined;
        let finish: string | null = null;
        for await (const chunk of stream) {
            text += chunk.choices[0]?.delta.content ?? "";
            finish = chunk.choices[0]?.finish_reason ?? finish;
            usage = (chunk.usage as typeof usage) ?? usage;
        }
        assert.ok(usage !== undefined && usage.completion_tokens >= 1);
        assert.ok(finish === "stop" || finish === "length");
        assert.equal(usage.iter_counts.length, usage.completion_tokens);
        assert.ok(usage.iter_counts.every((passes) => passes === 1 || passes === 2));
        assert.ok(text.length > 0 || finish === "stop");
    });

    test("chat sampling: a seed makes a sampled answer reproducible, temperature 0 is greedy", async () => {
        // top_k is llama-server's field, not in the openai client's types
        const ask = async (content: string, sampling: { temperature: number; seed: number }): Promise<string> => (await client.chat.completions.create({
            model, messages: [{ role: "user", content }], max_tokens: 24, top_p: 1, top_k: 0, ...sampling
        } as OpenAI.ChatCompletionCreateParamsNonStreaming)).choices[0].message.content ?? "";
        const question = "Name a few sorting algorithms.";
        // another question with the same settings in between: the repeat must not continue the random stream the
        // earlier answers drew from; and each ask of the question finds the same cached prefix (the chat template's),
        // since evaluating a prompt from a different cached prefix changes its floats slightly, which a flat
        // distribution at temperature 1.5 can turn into another draw
        const first = await ask(question, { temperature: 1.5, seed: 42 });
        await ask("Reverse a list in Python.", { temperature: 1.5, seed: 42 });
        const again = await ask(question, { temperature: 1.5, seed: 42 });
        await ask("Reverse a list in Python.", { temperature: 1.5, seed: 42 });
        const other = await ask(question, { temperature: 1.5, seed: 7 });
        assert.equal(again, first, "the same seed gives the same answer");
        assert.notEqual(other, first, "another seed draws another answer (at temperature 1.5 over 24 tokens)");
        const greedyA = await ask(question, { temperature: 0, seed: 1 });
        const greedyB = await ask(question, { temperature: 0, seed: 2 });
        assert.equal(greedyB, greedyA, "at temperature 0 the seed does not matter");
        assert.notEqual(greedyA, first, "temperature 1.5 is not greedy");
    });

    test("completions: streamed and not give the same greedy text", async () => {
        const whole = await complete(pythonPrefix);
        const stream = await client.completions.create({ model, prompt: pythonPrefix, max_tokens: 24, stream: true });
        let streamed = "";
        for await (const chunk of stream)
            streamed += chunk.choices[0]?.text ?? "";
        assert.ok(whole.choices[0].text.length > 0);
        assert.equal(streamed, whole.choices[0].text);
    });

    test("a stop sequence ends the completion right before its first occurrence", async () => {
        const whole = (await complete(tsPrefix)).choices[0].text;
        // a stop string from the middle of the greedy answer: the answer with it must be the text before it
        const from = Math.floor(whole.length / 2);
        const stop = whole.slice(from, from + 3);
        assert.equal(stop.length, 3, `the answer is long enough: ${JSON.stringify(whole)}`);
        const cut = await complete(tsPrefix, { stop: [stop] });
        assert.equal(cut.choices[0].text, whole.slice(0, whole.indexOf(stop)));
        assert.equal(cut.choices[0].finish_reason, "stop");
    });

    test("/infill answers llama.vscode's request", async () => {
        const { status, body } = await infill(llamaVscodeInfill("def add(a, b):\n", "    ", "\n\nprint(add(1, 2))\n"));
        assert.equal(status, 200);
        assert.equal(typeof body.content, "string");
        assert.ok(body.timings.predicted_n >= 1 && body.timings.prompt_n > 0);
        assert.equal(typeof body.tokens_cached, "number");
        assert.equal(body.usage.iter_counts.length, body.timings.predicted_n);
    });

    test("concurrent requests are answered exactly as each alone", async () => {
        const prompts = [pythonPrefix, tsPrefix, "class Stack:\n    def __init__(self):\n        "];
        const infills = [llamaVscodeInfill("def area(r):\n", "    return ", "\n"), llamaVscodeInfill("for i in range(10):\n", "    ", "\nprint('done')\n")];
        const alone: string[] = [];
        for (const prompt of prompts)
            alone.push((await complete(prompt)).choices[0].text);
        for (const body of infills)
            alone.push((await infill(body)).body.content);
        const together = await Promise.all([
            ...prompts.map(async (prompt) => (await complete(prompt)).choices[0].text),
            ...infills.map(async (body) => (await infill(body)).body.content),
            // a chat in the mix uses the engine's other sequence
            client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 8 }).then(() => "chat")
        ]);
        assert.deepEqual(together, [...alone, "chat"]);
    });

    test("the remote engine protocol gives an extension the same tokens and difficulty as the engine itself", async () => {
        const remote = new RemoteEngineClient({ url: server.url, token: () => Promise.resolve(apiKey), log: () => undefined });
        try {
            const models = await remote.load(remoteEngineSettings(server.url), () => undefined);
            assert.equal(models.chat.kind, "tah");
            const params = { prefix: pythonPrefix, suffix: "\n", maxTokens: 16, maxMs: 30_000, maxLines: 4, stream: true };
            // each call after the first reuses the same cached prompt: a prompt evaluated from another cached prefix
            // would differ in the last digits of its floats
            await service.complete(params, () => undefined, new AbortController().signal);
            const streamed: TokenView[] = [];
            const over = await remote.request("complete", params, { onEvent: (event) => { if (event.kind === "token") streamed.push(event.token); } });
            const local = await service.complete(params, () => undefined, new AbortController().signal);
            assert.ok(local.tokens.length > 0);
            assert.deepEqual(over.tokens, local.tokens, "P(hard), iterated and candidates of each token, as the engine computed them");
            assert.deepEqual(streamed, local.tokens);
            const text = "def add(a, b):\n    return a + b\n";
            const analyzed = (await remote.request("analyze", { text })).tokens;
            assert.ok(analyzed.length > 0);
            assert.deepEqual(analyzed, (await service.analyze({ text }, new AbortController().signal)).tokens);
            assert.deepEqual(await remote.request("tokenCount", { text }), service.tokenCount({ text }));
        } finally {
            remote.dispose();
        }
    });

    test("a client that disconnects cancels its generation in the engine", async () => {
        const controller = new AbortController();
        const stream = await client.completions.create({ model, prompt: pythonPrefix, max_tokens: 256, stream: true }, { signal: controller.signal });
        for await (const chunk of stream)
            if ((chunk.choices[0]?.text ?? "") !== "")
                break;
        controller.abort();
        const ending = await engine.ended("aborted");
        assert.ok(ending.tokens < 256, `the engine stopped early (${ending.tokens} tokens)`);
        assert.ok((await complete(pythonPrefix)).choices[0].text.length > 0, "the server goes on serving");
    });

    test("the queue holds its bound under a burst: the excess gets 429 at once", async () => {
        let release = (): void => undefined;
        engine.gate = new Promise((resolve) => { release = resolve; });
        const total = 1 + queueSize + 20;
        let refusedCount = 0;
        const burst = Array.from({ length: total }, (_, i) => complete(`# ${i}\n${pythonPrefix}`, { max_tokens: 4 }).catch((error: unknown) => {
            refusedCount++;
            throw error;
        }));
        const settled = Promise.allSettled(burst);
        // every request's fate is known once each is refused, waiting or running; only then may the engine go on
        while (refusedCount + await queueGauge("tah_queue_waiting") + await queueGauge("tah_queue_running") < total)
            await new Promise((resolve) => setImmediate(resolve));
        release();
        engine.gate = undefined;
        const outcomes = await settled;
        const refused = outcomes.filter((outcome) => outcome.status === "rejected").map((outcome) => outcome.reason as unknown);
        assert.ok(refused.every((reason) => reason instanceof OpenAI.RateLimitError), String(refused));
        assert.equal(outcomes.filter((outcome) => outcome.status === "fulfilled").length, 1 + queueSize);
        assert.equal(refused.length, 20);
    });

    test("refuses requests without the API key", async () => {
        const anonymous = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "not-the-key", maxRetries: 0 });
        await assert.rejects(anonymous.completions.create({ model, prompt: "x" }), (error: unknown) => error instanceof OpenAI.AuthenticationError);
        assert.equal((await fetch(`${server.url}/infill`, { method: "POST", body: "{}" })).status, 401);
    });

    test("/metrics parses as Prometheus text and counts the tokens served", async () => {
        const families = await metrics();
        const value = (name: string): number => Number(families.find((family) => family.name === name)?.metrics[0].value);
        assert.ok(value("tah_generated_tokens_total") > 0);
        assert.ok(value("tah_iterated_tokens_total") <= value("tah_generated_tokens_total"));
        assert.equal(value("tah_queue_rejections_total"), 20);
        assert.ok(value("tah_client_cancellations_total") >= 1);
    });
});
