/**
 * The remote engine: the extension's RemoteEngineClient (and the EngineController on it) against tah serve's engine
 * route with a scripted engine (test/support/serveStub.ts). What a remote extension relies on: the same requests,
 * token events and difficulty as the local engine process; cancellation reaching the engine; a token refused, a
 * server down, silent or lost giving one clear error at once, never a hang; and the controller reporting a lost
 * server once and connecting again on Retry.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, test } from "node:test";
import { EngineError, engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import type { EngineEvent } from "../../src/engine/protocol/engineProtocol.js";
import { maxRemoteLineChars, RemoteEngineClient, type RemoteTimeouts } from "../../src/engineClient/RemoteEngineClient.js";
import { remoteEngineSettings } from "../../src/engineHost/EngineConnection.js";
import { EngineController, type EngineState } from "../../src/engineHost/EngineController.js";
import { locationText } from "../../src/engineHost/locationText.js";
import { startServer, type RunningServer } from "../../src/server/serverApp.js";
import { StubEngine, stubToken } from "../support/serveStub.js";

const apiKey = "remote-key-0123";
const limits = { maxBodyBytes: 64 * 1024, maxTokens: 64, defaultMaxTokens: 16, maxDecodeMs: 60_000, queueSize: 3 };
const fast: Partial<RemoteTimeouts> = { connectMs: 500, silenceMs: 500, pingEveryMs: 60_000 };
const limit = { timeout: 20_000 };

let engine: StubEngine;
let server: RunningServer;

function remote(url = server.url, token: { value: string | undefined } = { value: apiKey }): RemoteEngineClient {
    return new RemoteEngineClient({ url, token: () => Promise.resolve(token.value), log: () => undefined, timeouts: fast });
}

const completion = { prefix: "def f():\n", suffix: "\n", maxTokens: 8, maxMs: 1000, maxLines: 4, stream: true };

/** A server that never answers (headers or body), or begins an answer (headers, a heartbeat) and then falls silent. */
async function silentServer(afterHeaders: boolean): Promise<{ url: string; close: () => Promise<void> }> {
    const silent = http.createServer((_request, response) => {
        if (afterHeaders) {
            response.writeHead(200, { "content-type": "application/x-ndjson" });
            response.write(`${JSON.stringify({ alive: true })}\n`);
        }
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    return {
        url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        close: () => new Promise((resolve) => {
            silent.closeAllConnections();
            silent.close(() => resolve());
        })
    };
}

before(async () => {
    engine = new StubEngine();
    server = await startServer(engine, { host: "127.0.0.1", port: 0, apiKey, modelName: "stub", limits, log: () => undefined });
});

after(async () => {
    await server.close();
});

afterEach(() => engine.reset());

describe("the engine protocol over HTTP", () => {
    test("load connects and returns the server's own models; requests stream the engine's token events", limit, async () => {
        const client = remote();
        try {
            const models = await client.load(remoteEngineSettings(server.url), () => undefined);
            assert.deepEqual(models, engine.status().models);
            assert.ok(client.rttMs !== null && client.rttMs >= 0);
            const events: EngineEvent[] = [];
            engine.answer = () => ["def", " add", "(a"];
            const result = await client.request("complete", completion, { onEvent: (event) => events.push(event) });
            // every token's difficulty arrives as the engine reported it
            assert.deepEqual(events, ["def", " add", "(a"].map((text, index) => ({ kind: "token", token: stubToken(index, text) })));
            assert.equal(result.mode, "fim");
            assert.deepEqual(engine.calls[0].params, completion);
            const analyzed = await client.request("analyze", { text: "ab" });
            assert.deepEqual(analyzed.tokens.map((token) => [token.piece, token.iterated, token.start]), [["a", true, 0], ["b", false, 1]]);
            assert.deepEqual(await client.request("tokenCount", { text: "12345678" }), { tokens: 2, exact: true });
        } finally {
            client.dispose();
        }
    });

    test("an engine error comes back with its code; invalid params are refused before the engine", limit, async () => {
        const client = remote();
        try {
            engine.failure = new EngineError("contextFull", "too long");
            await assert.rejects(client.request("complete", completion), (error) => engineErrorCodeOf(error) === "contextFull");
            engine.failure = undefined;
            engine.calls.length = 0;
            await assert.rejects(client.request("complete", { ...completion, maxTokens: -1 }), (error) => engineErrorCodeOf(error) === "invalidRequest");
            assert.equal(engine.calls.length, 0);
            // conversion works on this machine's files: never sent
            await assert.rejects(client.request("convert", { checkpointDir: "/a", outDir: "/b", type: "f16", force: false }), (error) => engineErrorCodeOf(error) === "invalidRequest");
        } finally {
            client.dispose();
        }
    });

    test("the caller's abort closes the connection and aborts the engine's call", limit, async () => {
        const client = remote();
        try {
            engine.endless = true;
            const controller = new AbortController();
            let tokens = 0;
            const request = client.request("chat", { messages: [{ role: "user", content: "hi" }], maxTokens: 10_000, enableThinking: false, stream: true }, {
                signal: controller.signal,
                onEvent: () => {
                    if (++tokens === 3)
                        controller.abort();
                }
            });
            await assert.rejects(request, (error) => engineErrorCodeOf(error) === "aborted");
            await engine.abortObserved();
            assert.equal(engine.calls[0].aborted, true);
        } finally {
            client.dispose();
        }
    });

    test("a wrong or missing token is refused as unauthorized", limit, async () => {
        for (const token of ["wrong", undefined]) {
            const client = remote(server.url, { value: token });
            await assert.rejects(client.load(remoteEngineSettings(server.url), () => undefined), (error) => engineErrorCodeOf(error) === "unauthorized");
            client.dispose();
        }
        assert.equal(engine.calls.length, 0);
    });

    test("a server that is down, never answers, or falls silent mid-answer fails as unreachable within the bounds", limit, async () => {
        const down = await silentServer(false);
        const downUrl = down.url;
        await down.close();
        for (const make of [() => Promise.resolve({ url: downUrl, close: () => Promise.resolve() }), () => silentServer(false), () => silentServer(true)]) {
            const target = await make();
            const client = remote(target.url);
            const started = performance.now();
            await assert.rejects(client.request("status", {}), (error) => engineErrorCodeOf(error) === "unreachable");
            // bounded by connectMs + silenceMs (500 ms each), with room for a loaded machine
            assert.ok(performance.now() - started < 5000, `took ${performance.now() - started} ms`);
            client.dispose();
            await target.close();
        }
    });

    test("a server that sends no JSON or lines outside the protocol is a clear error", limit, async () => {
        const bodies: Array<[string, (response: http.ServerResponse) => void, RegExp]> = [
            ["not JSON", (response) => response.end("<html>\n"), /not JSON/],
            ["null", (response) => response.end("null\n"), /not part of the engine protocol/],
            ["error without an error", (response) => response.end(`${JSON.stringify({ error: null })}\n`), /without an error/]
        ];
        for (const [name, send, expected] of bodies) {
            const hostile = http.createServer((_request, response) => {
                response.writeHead(200, { "content-type": "application/x-ndjson" });
                send(response);
            });
            await new Promise<void>((resolve) => hostile.listen(0, "127.0.0.1", resolve));
            const client = remote(`http://127.0.0.1:${(hostile.address() as AddressInfo).port}`);
            const before = process.memoryUsage().rss;
            await assert.rejects(client.request("status", {}), (error) => engineErrorCodeOf(error) === "internal" && expected.test(String(error)), name);
            assert.ok(process.memoryUsage().rss - before < 6 * maxRemoteLineChars, `${name}: memory grew by ${process.memoryUsage().rss - before} bytes`);
            client.dispose();
            hostile.closeAllConnections();
            await new Promise<void>((resolve) => hostile.close(() => resolve()));
        }
    });

    test("a server that keeps writing (no line end, after the answer, an endless refusal) is dropped: the connection closes", limit, async () => {
        const status = `${JSON.stringify({ result: { models: null, stats: { generatedTokens: 0, iteratedTokens: 0, tokensPerSecond: null, depthSum: 0 } } })}\n`;
        const cases: Array<[string, number, string, (request: Promise<unknown>) => Promise<void>]> = [
            ["a line without end", 200, "", (request) => assert.rejects(request, (error) => engineErrorCodeOf(error) === "internal" && /without ending a line/.test(String(error)))],
            ["more after the answer", 200, status, async (request) => assert.deepEqual(await request, { models: null, stats: { generatedTokens: 0, iteratedTokens: 0, tokensPerSecond: null, depthSum: 0 } })],
            ["an endless refusal", 500, "{\"error\": {\"message\": \"", (request) => assert.rejects(request, (error) => engineErrorCodeOf(error) === "internal" && /HTTP 500/.test(String(error)))]
        ];
        for (const [name, code, head, check] of cases) {
            let written = 0;
            let closed: () => void = () => undefined;
            const connectionClosed = new Promise<void>((resolve) => {
                closed = resolve;
            });
            const hostile = http.createServer((_request, response) => {
                response.on("close", closed);
                response.writeHead(code, { "content-type": "application/x-ndjson" });
                response.write(head);
                const chunk = "x".repeat(64 * 1024);
                // bounded, so a client that never lets go fails the test instead of hanging it
                const more = (): void => {
                    while (!response.destroyed && written < 4 * maxRemoteLineChars) {
                        written += chunk.length;
                        if (!response.write(chunk)) {
                            response.once("drain", more);
                            return;
                        }
                    }
                };
                more();
            });
            await new Promise<void>((resolve) => hostile.listen(0, "127.0.0.1", resolve));
            const client = remote(`http://127.0.0.1:${(hostile.address() as AddressInfo).port}`);
            await check(client.request("status", {}));
            await connectionClosed;
            assert.ok(written < 4 * maxRemoteLineChars, `${name}: the server wrote ${written} bytes before the client let go`);
            client.dispose();
            hostile.closeAllConnections();
            await new Promise<void>((resolve) => hostile.close(() => resolve()));
        }
    });

    test("a non-http URL is a clear error at connect", limit, async () => {
        const client = remote("ftp://example");
        await assert.rejects(client.load(remoteEngineSettings("ftp://example"), () => undefined), /http:\/\/ or https:\/\//);
        client.dispose();
    });

    test("the status bar names the remote host and its round trip", () => {
        assert.equal(locationText({ kind: "local" }), undefined);
        const where = locationText({ kind: "remote", url: "http://gpu-box:8080", host: "gpu-box:8080", rttMs: 12.4 });
        assert.equal(where?.text, "$(remote) gpu-box:8080 12 ms");
        assert.match(where?.tooltip ?? "", /http:\/\/gpu-box:8080.*12 ms/);
    });
});

describe("the controller on a remote engine", () => {
    test("a lost server fails what is in flight, is reported once (no restart loop), and Retry connects again", limit, async () => {
        const own = new StubEngine();
        let running = await startServer(own, { host: "127.0.0.1", port: 0, apiKey, modelName: "stub", limits, log: () => undefined });
        const url = running.url;
        const client = remote(url);
        const failures: string[] = [];
        const crashes: string[] = [];
        const states: EngineState["kind"][] = [];
        const controller = new EngineController(client, {
            desired: () => remoteEngineSettings(url),
            withLoadProgress: (_settings, task) => task(() => undefined),
            reportFailure: (error) => failures.push(error.code),
            reportCrash: (error) => crashes.push(error.code),
            stateChanged: (state) => states.push(state.kind)
        });
        try {
            const model = await controller.ensureLoaded();
            assert.equal(model?.name, "stub");
            assert.equal(controller.state.kind, "ready");

            own.endless = true;
            const inFlight = client.request("chat", { messages: [{ role: "user", content: "hi" }], maxTokens: 10_000, enableThinking: false, stream: true });
            await own.callStarted(1);
            // the server goes away mid-answer
            await running.close();
            await assert.rejects(inFlight, (error) => engineErrorCodeOf(error) === "unreachable");
            await new Promise((resolve) => setTimeout(resolve, 50));
            assert.equal(states.at(-1), "failed");
            assert.deepEqual(failures, ["unreachable"]);
            assert.deepEqual(crashes, []);
            // the failure is not retried on its own: a request fails at once with why
            await assert.rejects(controller.requireModel(), (error) => engineErrorCodeOf(error) === "unreachable");
            assert.deepEqual(failures, ["unreachable"]);

            own.endless = false;
            const port = Number(new URL(url).port);
            running = await startServer(own, { host: "127.0.0.1", port, apiKey, modelName: "stub", limits, log: () => undefined });
            const again = await controller.restart();
            assert.equal(again?.name, "stub");
            assert.equal(states.at(-1), "ready");
        } finally {
            controller.dispose();
            client.dispose();
            await running.close();
        }
    });
});
