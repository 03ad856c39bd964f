/**
 * Cuts generated text where the request says to stop: at the first of its stop strings (OpenAI's `stop`, which is
 * not part of the answer) or, for llama-server's `n_indent`, after the indentation of the first new line indented
 * less than that. Text is released as soon as no stop string can still begin in it, so a stream never shows text
 * that a later token turns into a stop.
 */
export class StopStrings {
    private text = "";
    private released = 0;
    private cut: number | undefined;
    /** Where the indentation check goes on: the start of the first line not yet known to be indented enough. */
    private indentScan = 0;

    private readonly longest: number;

    constructor(private readonly stops: readonly string[], private readonly nIndent = 0) {
        this.longest = Math.max(0, ...stops.map((stop) => stop.length));
    }

    get stopped(): boolean {
        return this.cut !== undefined;
    }

    /** Characters released so far (once stopped, the length of the answer). */
    get releasedLength(): number {
        return this.released;
    }

    /** Takes the next generated text; returns what may be shown now. Nothing more once stopped. */
    push(piece: string): string {
        if (this.cut !== undefined)
            return "";
        this.text += piece;
        const cut = this.firstCut();
        if (cut !== undefined) {
            this.cut = cut;
            return this.release(cut);
        }
        return this.release(this.text.length - this.heldBack());
    }

    /** At the end of generation: what was held back because it might have begun a stop string. */
    flush(): string {
        return this.cut !== undefined ? "" : this.release(this.text.length);
    }

    private release(to: number): string {
        const out = this.text.slice(this.released, Math.max(this.released, to));
        this.released = Math.max(this.released, to);
        return out;
    }

    private firstCut(): number | undefined {
        let cut = this.indentCut();
        // a stop string may have begun in text held back earlier, never in text already released
        const from = Math.max(0, this.released - this.longest + 1);
        for (const stop of this.stops) {
            const at = this.text.indexOf(stop, from);
            if (at !== -1 && (cut === undefined || at < cut))
                cut = at;
        }
        return cut;
    }

    /** The length of the longest end of the text that is the beginning of a stop string. */
    private heldBack(): number {
        let held = 0;
        for (const stop of this.stops)
            for (let length = Math.min(stop.length - 1, this.text.length); length > held; length--)
                if (this.text.endsWith(stop.slice(0, length))) {
                    held = length;
                    break;
                }
        return held;
    }

    /** llama-server's n_indent: the cut after the indentation of the first new line indented less than n_indent. */
    private indentCut(): number | undefined {
        if (this.nIndent <= 0)
            return undefined;
        for (let newline = this.text.indexOf("\n", this.indentScan); newline !== -1; newline = this.text.indexOf("\n", newline + 1)) {
            let position = newline + 1;
            while (position < this.text.length && (this.text[position] === " " || this.text[position] === "\t"))
                position++;
            if (position >= this.text.length)
                return undefined;
            if (position - newline - 1 < this.nIndent)
                return position;
            this.indentScan = newline + 1;
        }
        return undefined;
    }
}
