/**
 * tah serve's HTTP layer with a scripted engine (test/support/serveStub.ts), spoken to with the official openai client
 * and with fetch as llama.vscode speaks to /infill: what the tiny real model cannot show (tool calls, a full queue, an
 * engine error) and what needs no model. The real engine behind the same server: test/engine/serve.test.ts.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { after, afterEach, before, describe, test } from "node:test";
import OpenAI from "openai";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { EngineError } from "../../src/engine/protocol/EngineError.js";
import type { ChatParams, CompletionParams } from "../../src/engine/protocol/engineProtocol.js";
import type { LogRecord } from "../../src/server/requestLog.js";
import type { ServeLimits } from "../../src/server/requestContext.js";
import { startServer, type RunningServer } from "../../src/server/serverApp.js";
import { StubEngine } from "../support/serveStub.js";

const limits: ServeLimits = { maxBodyBytes: 64 * 1024, maxTokens: 64, defaultMaxTokens: 16, maxDecodeMs: 60_000, queueSize: 3 };
const apiKey = "test-key-0123";
const model = "stub-model";

let engine: StubEngine;
let server: RunningServer;
let logs: LogRecord[];
let client: OpenAI;

function clientWith(key: string): OpenAI {
    // no retries: a 429 must reach the test, not be retried away
    return new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key, maxRetries: 0 });
}

async function post(path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${apiKey}` }): Promise<Response> {
    return fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

before(async () => {
    engine = new StubEngine();
    logs = [];
    server = await startServer(engine, { host: "127.0.0.1", port: 0, apiKey, modelName: model, limits, log: (record) => logs.push(record) });
    client = clientWith(apiKey);
});

after(async () => {
    await server.close();
});

afterEach(() => engine.reset());

const weatherTool = {
    type: "function" as const,
    function: { name: "get_weather", description: "Weather of a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }
};

describe("tah serve, OpenAI chat", () => {
    test("answers a chat with usage.iter_counts, and per-token difficulty only when asked", async () => {
        const plain = await client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 8 });
        assert.equal(plain.choices[0].message.content, "Hello world");
        assert.equal(plain.choices[0].finish_reason, "stop");
        assert.equal(plain.model, model);
        const usage = plain.usage as unknown as { prompt_tokens: number; completion_tokens: number; iter_counts: number[]; prompt_iter_counts: number[] };
        // upstream TaH2's shape: per answer token its passes (the stub iterates every other token)
        assert.deepEqual([usage.prompt_tokens, usage.completion_tokens, usage.iter_counts, usage.prompt_iter_counts], [7, 2, [2, 1], []]);
        assert.equal("tah_tokens" in plain.choices[0], false);
        const params = engine.calls[0].params as ChatParams;
        assert.deepEqual(params.messages, [{ role: "user", content: "hi" }]);
        assert.equal(params.maxTokens, 8);

        const asked = await client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], tah_difficulty: true } as OpenAI.ChatCompletionCreateParamsNonStreaming);
        const tokens = (asked.choices[0] as unknown as { tah_tokens: Array<{ text: string; p_hard: number; iterated: boolean }> }).tah_tokens;
        assert.deepEqual(tokens.map((token) => [token.text, token.p_hard, token.iterated]), [["Hello", 0.9, true], [" world", 0.1, false]]);
        assert.equal((engine.calls[1].params as ChatParams).maxTokens, limits.defaultMaxTokens, "no max_tokens: the server's default");
    });

    test("streams the same answer as server-sent events, with usage at the end when asked", async () => {
        engine.answer = () => ["a", "b", "c", "d"];
        const stream = await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], stream: true, stream_options: { include_usage: true } });
        let text = "";
        let finish: string | null = null;
        let usage: unknown;
        for await (const chunk of stream) {
            text += chunk.choices[0]?.delta.content ?? "";
            finish = chunk.choices[0]?.finish_reason ?? finish;
            usage = chunk.usage ?? usage;
        }
        assert.equal(text, "abcd");
        assert.equal(finish, "stop");
        assert.deepEqual((usage as { iter_counts: number[] }).iter_counts, [2, 1, 2, 1]);
    });

    test("a stop sequence ends the answer before it, even across tokens, and aborts the engine's call", async () => {
        engine.answer = () => ["Hello", " wor", "ld", "! and", " more"];
        const answer = await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], stop: ["world"] });
        assert.equal(answer.choices[0].message.content, "Hello ");
        assert.equal(answer.choices[0].finish_reason, "stop");
        assert.equal(engine.calls[0].aborted, true, "the engine stopped generating");

        const stream = await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], stop: "! a", stream: true });
        let text = "";
        for await (const chunk of stream)
            text += chunk.choices[0]?.delta.content ?? "";
        assert.equal(text, "Hello world");
    });

    test("max_tokens is honoured and reported as finish_reason length", async () => {
        engine.answer = () => ["x"];
        engine.endless = true;
        const answer = await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], max_tokens: 5 });
        assert.equal(answer.choices[0].message.content, "xxxxx");
        assert.equal(answer.choices[0].finish_reason, "length");
    });

    test("a Qwen3 tool call becomes tool_calls, and the tool's result goes back into the conversation", async () => {
        engine.answer = () => ["Let me check.\n<tool", "_call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"];
        const first = await client.chat.completions.create({ model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Weather in Paris?" }], tools: [weatherTool] });
        const call = first.choices[0].message.tool_calls?.[0];
        assert.equal(first.choices[0].finish_reason, "tool_calls");
        assert.equal(first.choices[0].message.content, "Let me check.");
        assert.ok(call !== undefined && call.type === "function");
        assert.equal(call.function.name, "get_weather");
        assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
        const system = (engine.calls[0].params as ChatParams).messages[0];
        assert.equal(system.role, "system");
        assert.ok(system.content.startsWith("Be brief.\n\n# Tools\n"), system.content);
        assert.ok(system.content.includes("\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather of a city\", \"parameters\": {\"type\": \"object\""));

        engine.answer = () => ["It is 18 °C."];
        const second = await client.chat.completions.create({
            model,
            messages: [
                { role: "user", content: "Weather in Paris?" },
                { role: "assistant", content: null, tool_calls: [{ id: call.id, type: "function", function: call.function }] },
                { role: "tool", tool_call_id: call.id, content: "18 °C, sunny" }
            ],
            tools: [weatherTool]
        });
        assert.equal(second.choices[0].message.content, "It is 18 °C.");
        const sent = (engine.calls[1].params as ChatParams).messages;
        assert.deepEqual(sent.slice(1), [
            { role: "user", content: "Weather in Paris?" },
            // written back as the template's tojson writes the object, whatever spacing the client's JSON text had
            { role: "assistant", content: "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>" },
            { role: "user", content: "<tool_response>\n18 °C, sunny\n</tool_response>" }
        ]);
    });

    test("a streamed tool call arrives as a tool_calls delta, never as text", async () => {
        engine.answer = () => ["<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"];
        const stream = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Oslo?" }], tools: [weatherTool], stream: true });
        let text = "";
        let finish: string | null = null;
        const calls: Array<{ name?: string; arguments?: string }> = [];
        for await (const chunk of stream) {
            text += chunk.choices[0]?.delta.content ?? "";
            finish = chunk.choices[0]?.finish_reason ?? finish;
            for (const delta of chunk.choices[0]?.delta.tool_calls ?? [])
                calls[delta.index] = { name: delta.function?.name, arguments: delta.function?.arguments };
        }
        assert.equal(text, "");
        assert.equal(finish, "tool_calls");
        assert.deepEqual(calls, [{ name: "get_weather", arguments: "{\"city\":\"Oslo\"}" }]);
    });

    test("streamed with tools, a <tool_call> that cannot be a call streams as text as it comes, not held to the end", async () => {
        engine.answer = () => ["Sure: <tool_call> not json", " and more", " text"];
        const stream = await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], tools: [weatherTool], stream: true });
        const contents: string[] = [];
        let finish: string | null = null;
        for await (const chunk of stream) {
            const content = chunk.choices[0]?.delta.content ?? "";
            if (content !== "")
                contents.push(content);
            finish = chunk.choices[0]?.finish_reason ?? finish;
        }
        assert.deepEqual(contents, ["Sure: <tool_call> not json", " and more", " text"]);
        assert.equal(finish, "stop");
    });

    test("tool_choice none leaves the tools out and the text as it is", async () => {
        engine.answer = () => ["<tool_call>{\"name\": \"x\"}</tool_call>"];
        const answer = await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], tools: [weatherTool], tool_choice: "none" });
        assert.equal(answer.choices[0].message.content, "<tool_call>{\"name\": \"x\"}</tool_call>");
        assert.equal((engine.calls[0].params as ChatParams).messages.length, 1);
    });
});

describe("tah serve, completions and /infill", () => {
    test("/v1/completions passes the prompt (and an insertion suffix) to the engine's completion", async () => {
        engine.answer = () => ["return", " a + b"];
        const answer = await client.completions.create({ model, prompt: "def add(a, b):\n    ", suffix: "\n", max_tokens: 10 });
        assert.equal(answer.choices[0].text, "return a + b");
        const params = engine.calls[0].params as CompletionParams;
        assert.deepEqual([params.prefix, params.suffix, params.maxTokens], ["def add(a, b):\n    ", "\n", 10]);
        assert.equal(answer.usage?.prompt_tokens, 5);
    });

    test("/infill answers llama.vscode's request with the fields it reads", async () => {
        engine.answer = () => ["x = 1\n", "    y = 2\n", "z = 3\n"];
        // the request body llama.vscode's llama-server client sends (its createRequestPayload), with a context chunk
        const response = await post("/infill", {
            input_prefix: "def f():\n",
            input_suffix: "\n\nprint(f())\n",
            input_extra: [{ text: "import os\n", time: 1733000000000, filename: "util.py" }],
            prompt: "    ",
            n_predict: 32,
            top_k: 40,
            top_p: 0.99,
            stream: false,
            samplers: ["top_k", "top_p", "infill"],
            cache_prompt: true,
            t_max_prompt_ms: 500,
            t_max_predict_ms: 1000,
            n_indent: 4
        });
        const body = await response.json() as { content: string; tokens_cached: number; timings: { prompt_n: number; predicted_n: number; predicted_ms: number }; stop_type: string };
        assert.equal(response.status, 200, JSON.stringify(body));
        assert.equal(body.content, "x = 1\n    y = 2\n", "n_indent 4 cut the line indented less");
        assert.equal(body.stop_type, "word");
        assert.equal(typeof body.timings.predicted_n, "number");
        const params = engine.calls[0].params as CompletionParams;
        assert.equal(params.prefix, "import os\ndef f():\n    ", "context chunks, then the prefix, then the current line");
        assert.equal(params.suffix, "\n\nprint(f())\n");
        assert.equal(params.maxMs, 1000);
    });
});

describe("tah serve, /infill as the current llama.vscode sends it", () => {
    // its createRequestPayload: a preparation request (n_predict 0) after each completion warms the cache for the next
    const request = (nPredict: number): Record<string, unknown> => ({
        id_slot: 0,
        input_prefix: "def f():\n",
        input_suffix: "\n",
        input_extra: [{ text: "import os\n", time: 1733000000000, filename: "util.py" }],
        prompt: "    ",
        n_predict: nPredict,
        ...(nPredict === 0
            ? { samplers: [], cache_prompt: true, t_max_prompt_ms: 500, t_max_predict_ms: 1 }
            : { n_cmpl: 1, top_k: 40, top_p: 0.99, stream: false, samplers: ["top_k", "top_p", "infill"], cache_prompt: true, t_max_prompt_ms: 500, t_max_predict_ms: 1000 })
    });

    test("the preparation request evaluates the prompt and answers no text; the completion answers", async () => {
        engine.answer = () => ["return 1", "\n"];
        const prepared = await post("/infill", request(0));
        const preparedBody = await prepared.json() as { content: string; tokens_predicted: number; usage: { iter_counts: number[] } };
        assert.equal(prepared.status, 200, JSON.stringify(preparedBody));
        assert.equal(preparedBody.content, "");
        assert.equal(preparedBody.tokens_predicted, 0);
        assert.deepEqual(preparedBody.usage.iter_counts, []);
        assert.equal((engine.calls[0].params as CompletionParams).prefix, "import os\ndef f():\n    ", "the same prompt as the completion's, so it is cached");

        const answered = await post("/infill", request(32));
        const body = await answered.json() as { content: string; tokens_predicted: number };
        assert.equal(answered.status, 200, JSON.stringify(body));
        assert.equal(body.content, "return 1\n");
        assert.equal(body.tokens_predicted, 2);
    });
});

describe("tah serve, security and limits", () => {
    test("without the bearer token (or with a wrong one) a request is refused with 401; /health needs none", async () => {
        await assert.rejects(clientWith("wrong").chat.completions.create({ model, messages: [{ role: "user", content: "x" }] }), (error: unknown) => error instanceof OpenAI.AuthenticationError);
        const bare = await post("/infill", { input_prefix: "x" }, {});
        assert.equal(bare.status, 401);
        assert.equal(((await bare.json()) as { error: { type: string } }).error.type, "authentication_error");
        assert.equal((await fetch(`${server.url}/v1/models`)).status, 401);
        assert.equal((await fetch(`${server.url}/health`)).status, 200);
        assert.equal(engine.calls.length, 0, "no refused request reached the engine");
    });

    test("refuses to listen beyond loopback without an API key", async () => {
        await assert.rejects(startServer(engine, { host: "0.0.0.0", port: 0, modelName: "x", limits, log: () => undefined }), /without an API key/);
    });

    test("without a key, a request addressed to another host name (DNS rebinding) is refused", async () => {
        const open = await startServer(engine, { host: "127.0.0.1", port: 0, modelName: model, limits, log: () => undefined });
        try {
            const port = new URL(open.url).port;
            const request = (host: string): Promise<number> => new Promise((resolve, reject) => {
                http.get({ host: "127.0.0.1", port, path: "/v1/models", headers: { host } }, (response) => { response.resume(); resolve(response.statusCode ?? 0); }).on("error", reject);
            });
            assert.equal(await request("evil.example:8080"), 403);
            assert.equal(await request(`localhost:${port}`), 200);
            assert.equal(await request(`[::1]:${port}`), 200);
        } finally {
            await open.close();
        }
    });

    test("a body over the limit gets 413, max_tokens over the limit 400, bad JSON 400", async () => {
        const big = await post("/v1/completions", { prompt: "x".repeat(limits.maxBodyBytes) });
        assert.equal(big.status, 413);
        await assert.rejects(client.completions.create({ model, prompt: "x", max_tokens: limits.maxTokens + 1 }), (error: unknown) => error instanceof OpenAI.BadRequestError && /at most 64/.test(error.message));
        const broken = await fetch(`${server.url}/v1/completions`, { method: "POST", headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: "{" });
        assert.equal(broken.status, 400);
        // a stop string is checked after every token: an oversized one is refused, on every endpoint that takes one
        const longStop = "s".repeat(257);
        for (const [route, body] of [["/v1/completions", { prompt: "x", stop: longStop }], ["/v1/chat/completions", { messages: [{ role: "user", content: "x" }], stop: [longStop] }], ["/infill", { input_prefix: "x", stop: [longStop] }]] as const)
            assert.equal((await post(route, body)).status, 400, route);
        // what a web page can send cross-origin without a preflight
        const form = await fetch(`${server.url}/v1/completions`, { method: "POST", headers: { authorization: `Bearer ${apiKey}`, "content-type": "text/plain" }, body: "{\"prompt\": \"x\"}" });
        assert.equal(form.status, 415);
        assert.equal(engine.calls.length, 0);
    });

    test("what the server cannot honour is refused, not ignored: n > 1, a forced tool choice", async () => {
        await assert.rejects(client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], n: 2 }), (error: unknown) => error instanceof OpenAI.BadRequestError && /n = 1/.test(error.message));
        await assert.rejects(client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], tools: [weatherTool], tool_choice: "required" }), (error: unknown) => error instanceof OpenAI.BadRequestError && /tool_choice/.test(error.message));
        assert.equal(engine.calls.length, 0);
    });

    test("engine errors keep their code and get the matching status", async () => {
        engine.failure = new EngineError("contextFull", "the prompt does not fit");
        await assert.rejects(client.completions.create({ model, prompt: "x" }), (error: unknown) => error instanceof OpenAI.BadRequestError && error.code === "contextFull");
        engine.failure = new EngineError("contextFull", "too long");
        await assert.rejects(client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }] }), (error: unknown) => error instanceof OpenAI.BadRequestError && error.code === "contextFull");
        engine.failure = new Error("segfault details");
        await assert.rejects(client.completions.create({ model, prompt: "x" }), (error: unknown) => error instanceof OpenAI.InternalServerError && !error.message.includes("segfault"));
    });

    test("a full queue answers 429 at once; the queued requests are then served in order", async () => {
        let release = (): void => undefined;
        engine.gate = new Promise((resolve) => { release = resolve; });
        engine.answer = (params) => [(params as CompletionParams).prefix];
        const running = client.completions.create({ model, prompt: "r" });
        await engine.callStarted(1);
        const queued: Array<Promise<OpenAI.Completion>> = [];
        for (let i = 0; i < limits.queueSize; i++) {
            queued.push(client.completions.create({ model, prompt: `q${i}` }));
            await waitForQueue(i + 1);
        }
        const burst = await Promise.allSettled(Array.from({ length: 20 }, () => client.completions.create({ model, prompt: "burst" })));
        assert.equal(burst.length, 20);
        for (const outcome of burst)
            assert.ok(outcome.status === "rejected" && outcome.reason instanceof OpenAI.RateLimitError && outcome.reason.code === "busy", String(outcome.status === "rejected" ? outcome.reason : "served"));
        const refused = burst[0].status === "rejected" ? burst[0].reason as InstanceType<typeof OpenAI.RateLimitError> : undefined;
        assert.equal(refused?.headers.get("retry-after"), "1");
        release();
        assert.equal((await running).choices[0].text, "r");
        assert.deepEqual((await Promise.all(queued)).map((answer) => answer.choices[0].text), ["q0", "q1", "q2"]);
        assert.deepEqual(engine.calls.map((call) => (call.params as CompletionParams).prefix), ["r", "q0", "q1", "q2"], "first in, first out");
    });

    test("a client that disconnects cancels its generation in the engine", async () => {
        engine.answer = () => ["tick "];
        engine.endless = true;
        const controller = new AbortController();
        const stream = await client.chat.completions.create({ model, messages: [{ role: "user", content: "go" }], max_tokens: 64, stream: true }, { signal: controller.signal });
        let received = "";
        for await (const chunk of stream) {
            received += chunk.choices[0]?.delta.content ?? "";
            if (received !== "")
                break;
        }
        controller.abort();
        assert.equal(received, "tick ");
        await engine.abortObserved();
        assert.equal(engine.calls[0].aborted, true);
        // the next request is served: the aborted one left the queue
        engine.endless = false;
        engine.answer = () => ["ok"];
        assert.equal((await client.completions.create({ model, prompt: "x" })).choices[0].text, "ok");
    });
});

async function waitForQueue(depth: number): Promise<void> {
    for (;;) {
        const families = parsePrometheusTextFormat(await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${apiKey}` } })).text());
        if (Number(families.find((family) => family.name === "tah_queue_waiting")?.metrics[0].value) >= depth)
            return;
        await new Promise((resolve) => setImmediate(resolve));
    }
}

describe("tah serve, operations", () => {
    test("/metrics is Prometheus text with the request, queue and token counters", async () => {
        await client.completions.create({ model, prompt: "x" });
        const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${apiKey}` } });
        assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
        const families = parsePrometheusTextFormat(await response.text());
        const family = (name: string): (typeof families)[number] => {
            const found = families.find((candidate) => candidate.name === name);
            assert.ok(found !== undefined, `${name} is exported`);
            return found;
        };
        const served = family("tah_http_requests_total").metrics.find((metric) => metric.labels?.route === "/v1/completions" && metric.labels.status === "200");
        assert.ok(Number(served?.value) >= 1);
        assert.ok(Number(family("tah_queue_rejections_total").metrics[0].value) >= 20, "the burst's rejections are counted");
        assert.ok(Number(family("tah_generated_tokens_total").metrics[0].value) >= 1);
        assert.equal(family("tah_http_request_duration_seconds").type, "HISTOGRAM");
        assert.ok(Number(family("tah_process_resident_memory_bytes").metrics[0].value) > 0);
    });

    test("each request leaves one JSON log record with its status and usage", () => {
        const served = logs.filter((record) => record.msg === "request" && record.path === "/v1/completions" && record.status === 200);
        assert.ok(served.length >= 1);
        assert.equal(typeof served[0].ms, "number");
        assert.ok(logs.some((record) => record.status === 429 && (record.error as { code: string }).code === "busy"));
        for (const record of logs)
            assert.doesNotThrow(() => JSON.parse(JSON.stringify(record)));
    });
});
