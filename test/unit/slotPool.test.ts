// The sequences of a role under tah serve --parallel: each request holds its own, the lowest free first; waiting is
// first in, first out and bounded; an abort while waiting leaves the line.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import { SlotPool } from "../../src/engine/service/SlotPool.js";

const never = new AbortController().signal;

describe("SlotPool", () => {
    test("hands out the lowest free sequence, each to one holder at a time", async () => {
        const pool = new SlotPool(3, 4);
        const [a, b, c] = await Promise.all([pool.acquire(never), pool.acquire(never), pool.acquire(never)]);
        assert.deepEqual([a.index, b.index, c.index], [0, 1, 2]);
        b.release();
        b.release();
        assert.equal((await pool.acquire(never)).index, 1);
        a.release();
        assert.equal((await pool.acquire(never)).index, 0, "a released sequence is free again, and the lowest goes first");
    });

    test("waiting requests get sequences in the order they came; beyond the bound they are refused as busy", async () => {
        const pool = new SlotPool(1, 2);
        const held = await pool.acquire(never);
        const order: string[] = [];
        const first = pool.acquire(never).then((slot) => { order.push("first"); return slot; });
        const second = pool.acquire(never).then((slot) => { order.push("second"); return slot; });
        await assert.rejects(pool.acquire(never), (error) => engineErrorCodeOf(error) === "busy");
        held.release();
        (await first).release();
        (await second).release();
        assert.deepEqual(order, ["first", "second"]);
    });

    test("an abort while waiting leaves the line without a sequence", async () => {
        const pool = new SlotPool(1, 2);
        const held = await pool.acquire(never);
        const controller = new AbortController();
        const leaving = pool.acquire(controller.signal);
        const staying = pool.acquire(never);
        controller.abort();
        await assert.rejects(leaving, (error) => engineErrorCodeOf(error) === "aborted");
        held.release();
        assert.equal((await staying).index, 0);
    });
});
