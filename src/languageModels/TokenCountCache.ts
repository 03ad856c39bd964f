// Token counts VS Code's Chat asks for again and again: before every request it counts each message of the history and
// each tool's description, most of them unchanged since the last request. Each count is a round trip to the engine
// (over the network with a remote engine), so a request with a long history and many tools could wait seconds on
// "Considering" for counts it had already been given.
import { createHash } from "node:crypto";

export class TokenCountCache {
    /** Digest of (model, text) → tokens, in order of last use. */
    private readonly counts = new Map<string, number>();

    constructor(private readonly maxEntries: number) {}

    get size(): number {
        return this.counts.size;
    }

    /** The count of `text` under `model`, computed once; a failed computation is not kept. */
    async count(model: string, text: string, compute: () => Promise<number>): Promise<number> {
        // a digest, not the text, is kept: histories hold whole files
        const key = createHash("sha256").update(model).update("\0").update(text).digest("base64");
        const known = this.counts.get(key);
        if (known !== undefined) {
            this.counts.delete(key);
            this.counts.set(key, known);
            return known;
        }
        const tokens = await compute();
        this.counts.set(key, tokens);
        if (this.counts.size > this.maxEntries)
            this.counts.delete(this.counts.keys().next().value as string);
        return tokens;
    }
}
