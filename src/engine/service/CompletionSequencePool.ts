/**
 * Which sequence of the completion context serves which document: the most recently used documents keep a sequence
 * (and so their KV) each, so switching back to a file reuses its prompt instead of evaluating it again. A new
 * document takes the least recently used sequence; its cells are trimmed by the next prefill, not here.
 */
export class CompletionSequencePool {
    /** Document keys by sequence index, most recently used last. */
    private readonly order: Array<{ document: string; sequence: number }> = [];

    constructor(readonly size: number) {
        if (!Number.isInteger(size) || size < 1)
            throw new RangeError(`a pool of ${size} sequences`);
    }

    /** The sequence for `document` ("" for requests that name none), now the most recently used. */
    sequenceFor(document: string): number {
        const at = this.order.findIndex((entry) => entry.document === document);
        let entry: { document: string; sequence: number };
        if (at >= 0) {
            [entry] = this.order.splice(at, 1);
        } else if (this.order.length < this.size) {
            entry = { document, sequence: this.order.length };
        } else {
            const [oldest] = this.order.splice(0, 1);
            entry = { document, sequence: oldest.sequence };
        }
        this.order.push(entry);
        return entry.sequence;
    }

    /** The documents that hold a sequence, least recently used first. */
    get documents(): string[] {
        return this.order.map((entry) => entry.document);
    }
}

/** KV memory the completion context may spend on other files' sequences (the first sequence is always there). */
export const extraFileKvBytes = 256 * 1024 * 1024;
/** The most documents whose KV is kept. */
export const maxFileSequences = 4;

/** How many documents keep their KV: as many as fit the extra budget, at least one, at most maxFileSequences. */
export function fileSequenceCount(bytesPerSequence: number | undefined): number {
    if (bytesPerSequence === undefined || bytesPerSequence <= 0)
        return 1;
    return Math.max(1, Math.min(maxFileSequences, 1 + Math.floor(extraFileKvBytes / bytesPerSequence)));
}
