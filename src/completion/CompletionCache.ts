import { LRUCache } from "lru-cache";
import type { Suggestion } from "./postProcess.js";

export interface CacheHit {
    suggestion: Suggestion;
    /** Characters the user typed along the cached suggestion since it was made. */
    typed: number;
}

function trimStart(suggestion: Suggestion, count: number): Suggestion {
    const tokens = [...suggestion.tokens];
    let left = count;
    while (left > 0 && tokens.length > 0) {
        const first = tokens[0];
        if (first.text.length <= left) {
            left -= first.text.length;
            tokens.shift();
        } else {
            tokens[0] = { ...first, text: first.text.slice(left) };
            left = 0;
        }
    }
    return { text: suggestion.text.slice(count), tokens };
}

/**
 * Suggestions by (prefix, suffix). A lookup also walks back over what the user typed since a suggestion was made,
 * so typing along a suggestion shows its remainder at once instead of asking the engine again.
 */
export class CompletionCache {
    private readonly entries: LRUCache<string, Suggestion>;

    constructor(maxEntries: number, private readonly maxWalkBack = 128) {
        this.entries = new LRUCache({ max: maxEntries });
    }

    private static key(prefix: string, suffix: string): string {
        return `${prefix}\u0000${suffix}`;
    }

    set(prefix: string, suffix: string, suggestion: Suggestion): void {
        this.entries.set(CompletionCache.key(prefix, suffix), suggestion);
    }

    get(prefix: string, suffix: string): CacheHit | undefined {
        const limit = Math.min(this.maxWalkBack, prefix.length);
        for (let typed = 0; typed <= limit; typed++) {
            const entry = this.entries.get(CompletionCache.key(prefix.slice(0, prefix.length - typed), suffix));
            if (entry === undefined)
                continue;
            const typedText = prefix.slice(prefix.length - typed);
            if (entry.text.startsWith(typedText) && entry.text.length > typedText.length)
                return { suggestion: trimStart(entry, typed), typed };
        }
        return undefined;
    }

    clear(): void {
        this.entries.clear();
    }
}
