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

const minDelayMs = 50;
const maxDelayMs = 1000;

/**
 * Tabby-style adaptive debounce: the delay follows the user's typing rhythm, shortens where a suggestion is likely
 * wanted (after a trigger character, at a line's end), and lengthens while the engine is slow to answer.
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
        const rhythm = Math.min(400, Math.max(100, this.interval ?? settings.baseMs));
        const base = Math.max(settings.baseMs, rhythm);
        const score = (triggerCharacters.has(context.lastCharacter) ? 0.5 : 0) + (context.atLineEnd ? 0.4 : 0) + (context.atDocumentEnd ? 0.1 : 0);
        // a likely spot waits 1.5× the rhythm, an unlikely one 3×; a slow engine is not made to wait longer still
        const delay = base * (3 - 1.5 * score) - 0.3 * (this.latency ?? 0);
        return Math.round(Math.min(maxDelayMs, Math.max(minDelayMs, delay)));
    }
}
