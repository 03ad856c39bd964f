import { EngineError } from "../engine/protocol/EngineError.js";

interface Waiting {
    start: () => void;
    cancel: () => void;
}

/**
 * A bounded first-in first-out queue in front of the engine. `concurrency` requests run at once, at most
 * `maxWaiting` wait; one more is refused at once with a `busy` EngineError (HTTP 429) instead of waiting unboundedly.
 * A waiting request whose signal aborts leaves the queue without having run.
 */
export class RequestQueue {
    private running = 0;
    private readonly waiting: Waiting[] = [];

    constructor(private readonly concurrency: number, private readonly maxWaiting: number) {}

    /** Requests waiting for their turn (not those running). */
    get depth(): number {
        return this.waiting.length;
    }

    get active(): number {
        return this.running;
    }

    async run<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T> {
        if (signal.aborted)
            throw new EngineError("aborted", "the client went away");
        if (this.running < this.concurrency)
            this.running++;
        else if (this.waiting.length >= this.maxWaiting)
            throw new EngineError("busy", `the server is busy: ${this.waiting.length} requests are already waiting; retry later`);
        else
            await this.turn(signal);
        try {
            return await task();
        } finally {
            // the slot passes straight to the next in line, so a newcomer can never overtake it
            const next = this.waiting.shift();
            if (next !== undefined)
                next.start();
            else
                this.running--;
        }
    }

    private turn(signal: AbortSignal): Promise<void> {
        return new Promise((resolve, reject) => {
            const entry: Waiting = {
                start: () => {
                    signal.removeEventListener("abort", entry.cancel);
                    resolve();
                },
                cancel: () => {
                    this.waiting.splice(this.waiting.indexOf(entry), 1);
                    reject(new EngineError("aborted", "the client went away"));
                }
            };
            signal.addEventListener("abort", entry.cancel, { once: true });
            this.waiting.push(entry);
        });
    }
}
