import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StepQueue, type StepPriority } from "../../src/engine/evaluator/StepQueue.js";

/** A step that records when it ran and finishes when told to. */
function gate(): { promise: Promise<void>; open: () => void } {
    let open = (): void => undefined;
    const promise = new Promise<void>((resolve) => {
        open = resolve;
    });
    return { promise, open };
}

describe("StepQueue", () => {
    it("runs one step at a time, interactive ones before waiting background ones, each priority in order", async () => {
        const queue = new StepQueue();
        const order: string[] = [];
        let running = 0;
        let most = 0;
        const first = gate();
        const step = (name: string, priority: StepPriority, wait?: Promise<void>): Promise<void> => queue.run(priority, async () => {
            running++;
            most = Math.max(most, running);
            order.push(name);
            await wait;
            await new Promise((resolve) => setImmediate(resolve));
            running--;
        });
        const all = [
            step("chat 1", "background", first.promise),
            step("chat 2", "background"),
            step("analysis", "background"),
            step("completion 1", "interactive"),
            step("completion 2", "interactive")
        ];
        first.open();
        await Promise.all(all);
        assert.deepEqual(order, ["chat 1", "completion 1", "completion 2", "chat 2", "analysis"]);
        assert.equal(most, 1);
    });

    it("a failing step rejects its own caller only and the queue goes on", async () => {
        const queue = new StepQueue();
        const failed = queue.run("background", () => Promise.reject(new Error("native step failed")));
        const next = queue.run("background", () => Promise.resolve(7));
        await assert.rejects(failed, /native step failed/);
        assert.equal(await next, 7);
    });
});
