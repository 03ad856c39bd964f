/** tah serve's bounded first-in first-out queue in front of the engine. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import { RequestQueue } from "../../src/server/RequestQueue.js";

function gate(): { open: () => void; wait: Promise<void> } {
    let open = (): void => undefined;
    const wait = new Promise<void>((resolve) => { open = resolve; });
    return { open, wait };
}

function record(order: string[], name: string): Promise<void> {
    order.push(name);
    return Promise.resolve();
}

describe("the request queue", () => {
    test("runs one at a time in arrival order, refuses beyond its bound, and drops a waiting request whose client left", async () => {
        const queue = new RequestQueue(1, 2);
        const order: string[] = [];
        const first = gate();
        const never = new AbortController().signal;
        const a = queue.run(async () => { order.push("a"); await first.wait; }, never);
        const b = queue.run(() => record(order, "b"), never);
        const leaving = new AbortController();
        const c = queue.run(() => record(order, "c"), leaving.signal);
        assert.deepEqual([queue.active, queue.depth], [1, 2]);
        await assert.rejects(queue.run(() => record(order, "d"), never), (error: unknown) => engineErrorCodeOf(error) === "busy");
        leaving.abort();
        await assert.rejects(c, (error: unknown) => engineErrorCodeOf(error) === "aborted");
        assert.equal(queue.depth, 1);
        const e = queue.run(() => record(order, "e"), never);
        first.open();
        await Promise.all([a, b, e]);
        assert.deepEqual(order, ["a", "b", "e"]);
        assert.deepEqual([queue.active, queue.depth], [0, 0]);
    });

    test("a failing task frees its slot", async () => {
        const queue = new RequestQueue(1, 0);
        const never = new AbortController().signal;
        await assert.rejects(queue.run(() => Promise.reject(new Error("boom")), never), /boom/);
        assert.equal(await queue.run(() => Promise.resolve(42), never), 42);
    });
});
