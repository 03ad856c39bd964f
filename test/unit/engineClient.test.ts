// The engine client's liveness bound: a stuck process is killed, a busy but answering one is left alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EngineError, engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import { withFakeClient } from "./fakeEngine/fakeEngineHarness.js";

const limit = { timeout: 30_000 };
const hang = { prefix: "hang", suffix: "", maxTokens: 4, maxMs: 100, maxLines: 1, stream: false };

test("a stopped engine (SIGSTOP) fails its requests with timeout and the next request gets a fresh process", limit, async () => {
    await withFakeClient({}, { pingAfterMs: 50, timeoutMs: 300, startTimeoutMs: 60_000 }, async ({ client }) => {
        const exits: EngineError[] = [];
        client.on("exit", (error) => exits.push(error));
        const first = await client.request("complete", { ...hang, prefix: "x" });
        assert.equal(first.text, " done");
        const pid = client.pid;
        assert.ok(pid !== undefined);
        const request = client.request("complete", hang);
        process.kill(pid, "SIGSTOP");
        await assert.rejects(request, (error) => engineErrorCodeOf(error) === "timeout");
        assert.deepEqual(exits.map((error) => error.code), ["timeout"]);
        const again = await client.request("complete", { ...hang, prefix: "x" });
        assert.equal(again.text, " done");
        assert.notEqual(client.pid, pid);
    });
});

test("a long request on an engine that answers pings is not killed, and is cancelled as asked", limit, async () => {
    await withFakeClient({}, { pingAfterMs: 20, timeoutMs: 200, startTimeoutMs: 60_000 }, async ({ client, pings }) => {
        const exits: EngineError[] = [];
        client.on("exit", (error) => exits.push(error));
        const controller = new AbortController();
        const request = client.request("complete", hang, { signal: controller.signal });
        // well past timeoutMs of silence on the request itself, but the engine answers every ping
        while (pings() < 20)
            await new Promise((resolve) => setTimeout(resolve, 20));
        const pid = client.pid;
        controller.abort();
        await assert.rejects(request, (error) => engineErrorCodeOf(error) === "aborted");
        assert.deepEqual(exits, []);
        assert.equal(client.pid, pid);
    });
});

test("an idle engine is not pinged", limit, async () => {
    await withFakeClient({}, { pingAfterMs: 10, timeoutMs: 100, startTimeoutMs: 60_000 }, async ({ client, pings }) => {
        await client.request("complete", { ...hang, prefix: "x" });
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(pings(), 0);
        assert.ok(client.pid !== undefined, "still running");
    });
});
