/** Characters after which a suggestion is most likely wanted at once. */
const triggerCharacters = new Set([".", "(", "[", "{", ",", ":", "=", " ", "\n", ">"]);

export interface DebounceContext {
    /** The character just typed ("" when unknown). */
    lastCharacter: string;
    atLineEnd: boolean;
    atDocumentEnd: boolean;
}

export interface DebounceSettings {
    /** The base delay in ms (the setting); adaptive mode moves around it. */
    baseMs: number;
    adaptive: boolean;
}

const minDelayMs = 25;
const maxDelayMs = 1000;

/**
 * Tabby-style adaptive debounce: the delay follows the user's typing rhythm and shortens where a suggestion is likely
 * wanted (after a trigger character, at a line's end). It never exceeds twice what the engine takes to answer: the wait
 * exists to spare the engine work the next keystroke would cancel, and a fast engine's work costs less than the wait.
 * (The earlier 1.5–3× the rhythm put about half a second between a keystroke and a 22 ms suggestion.)
 */
export class AdaptiveDebounce {
    private lastKeystroke: number | undefined;
    private interval: number | undefined;
    private latency: number | undefined;

    /** Records a keystroke at time `now` (ms); pauses longer than 2 s are not part of the rhythm. */
    recordKeystroke(now: number): void {
        if (this.lastKeystroke !== undefined) {
            const gap = now - this.lastKeystroke;
            if (gap > 0 && gap < 2000)
                this.interval = this.interval === undefined ? gap : 0.7 * this.interval + 0.3 * gap;
        }
        this.lastKeystroke = now;
    }

    /** Records how long the engine took to answer. */
    recordLatency(ms: number): void {
        this.latency = this.latency === undefined ? ms : 0.7 * this.latency + 0.3 * ms;
    }

    delayMs(context: DebounceContext, settings: DebounceSettings): number {
        if (!settings.adaptive)
            return settings.baseMs;
        const rhythm = Math.min(400, Math.max(50, this.interval ?? settings.baseMs));
        const base = (settings.baseMs + rhythm) / 2;
        const score = (triggerCharacters.has(context.lastCharacter) ? 0.5 : 0) + (context.atLineEnd ? 0.4 : 0) + (context.atDocumentEnd ? 0.1 : 0);
        // a likely spot waits half the base, an unlikely one 1.5×; a slow engine is not made to wait longer still
        let delay = base * (1.5 - score) - 0.3 * (this.latency ?? 0);
        if (this.latency !== undefined)
            delay = Math.min(delay, 2 * this.latency);
        return Math.round(Math.min(maxDelayMs, Math.max(minDelayMs, delay)));
    }
}
