/** Bounded retries with exponential backoff for what may pass by itself: 5xx and dropped connections. */
import { setTimeout as sleep } from "node:timers/promises";
import { DownloadError, isTransient } from "./DownloadError.js";

export interface RetryOptions {
    /** Tries after the first; default 4. */
    readonly retries?: number;
    /** The first wait; each next one doubles, up to 30 s. Default 1 s. */
    readonly baseDelayMs?: number;
    readonly signal?: AbortSignal;
}

export function backoffDelayMs(attempt: number, baseDelayMs: number): number {
    return Math.min(baseDelayMs * 2 ** attempt, 30_000);
}

/** Runs `attempt` until it succeeds, fails for good, or the retries are spent; `attempt` gets the try's number. */
export async function withRetries<T>(attempt: (tryNumber: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
    const retries = options.retries ?? 4;
    const baseDelayMs = options.baseDelayMs ?? 1000;
    for (let tryNumber = 0; ; tryNumber++) {
        try {
            return await attempt(tryNumber);
        } catch (error) {
            if (tryNumber >= retries || !isTransient(error) || options.signal?.aborted)
                throw error;
            try {
                await sleep(backoffDelayMs(tryNumber, baseDelayMs), undefined, { signal: options.signal });
            } catch {
                throw new DownloadError("aborted", "the download was cancelled");
            }
        }
    }
}
