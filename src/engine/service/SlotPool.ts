import { EngineError } from "../protocol/EngineError.js";

export interface Slot {
    /** The sequence index the holder generates on. */
    index: number;
    release: () => void;
}

/**
 * The sequences of one role that concurrent requests are spread over (tah serve --parallel): each request holds one
 * sequence of its own for its whole generation, so its answer is what it gets alone; the lowest free one is taken
 * (a lone client's requests keep finding their own cached prefix), and when none is free requests wait first in,
 * first out, at most maxWaiting of them (`busy` beyond).
 */
export class SlotPool {
    private readonly free: number[];
    private readonly waiting: Array<(index: number) => void> = [];

    constructor(size: number, private readonly maxWaiting: number) {
        this.free = Array.from({ length: size }, (_, index) => index);
    }

    acquire(signal: AbortSignal): Promise<Slot> {
        if (signal.aborted)
            return Promise.reject(new EngineError("aborted", "aborted"));
        const index = this.free.shift();
        if (index !== undefined)
            return Promise.resolve(this.slot(index));
        if (this.waiting.length >= this.maxWaiting)
            return Promise.reject(new EngineError("busy", `every sequence is in use and ${this.waiting.length} requests wait for one; try again later`));
        return new Promise((resolve, reject) => {
            const grant = (granted: number): void => {
                signal.removeEventListener("abort", cancel);
                resolve(this.slot(granted));
            };
            const cancel = (): void => {
                this.waiting.splice(this.waiting.indexOf(grant), 1);
                reject(new EngineError("aborted", "aborted"));
            };
            signal.addEventListener("abort", cancel, { once: true });
            this.waiting.push(grant);
        });
    }

    private slot(index: number): Slot {
        let released = false;
        return {
            index,
            release: () => {
                if (released)
                    return;
                released = true;
                // straight to the next in line, so a newcomer never overtakes a waiting request
                const next = this.waiting.shift();
                if (next !== undefined) {
                    next(index);
                    return;
                }
                this.free.push(index);
                this.free.sort((a, b) => a - b);
            }
        };
    }
}
