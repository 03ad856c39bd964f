import type { TokenView } from "../engine/protocol/engineProtocol.js";

export type HardTokenPolicy = "off" | "truncate" | "hide";

export interface PostProcessOptions {
    suffix: string;
    hardTokenPolicy: HardTokenPolicy;
    /** A token is hard when its difficulty is at least this. */
    hardTokenThreshold: number;
    /** "hide" looks at this many leading tokens. */
    leadingTokens: number;
}

export interface Suggestion {
    text: string;
    /** The tokens that make up text, with their difficulty (trimmed along with the text). */
    tokens: TokenView[];
}

/** Markup a model may still produce as text: never part of ghost text. */
const markup = /<\|[a-z_]+\|>|<\/?think>/;

function keepTokens(tokens: readonly TokenView[], length: number): TokenView[] {
    const kept: TokenView[] = [];
    let used = 0;
    for (const token of tokens) {
        if (used >= length)
            break;
        const room = length - used;
        kept.push(token.text.length <= room ? token : { ...token, text: token.text.slice(0, room) });
        used += Math.min(token.text.length, room);
    }
    return kept;
}

function truncated(suggestion: Suggestion, length: number): Suggestion {
    return { text: suggestion.text.slice(0, length), tokens: keepTokens(suggestion.tokens, length) };
}

/** The longest end of `text` that is also the start of `suffix` (ignoring the suffix's leading spaces). */
export function suffixOverlap(text: string, suffix: string): number {
    const head = suffix.replace(/^[ \t]+/, "");
    for (let k = Math.min(text.length, head.length); k > 0; k--) {
        if (text.endsWith(head.slice(0, k)))
            return k;
    }
    return 0;
}

/** Offset of the first token whose difficulty reaches the threshold, or -1. */
function firstHardOffset(tokens: readonly TokenView[], threshold: number): { index: number; offset: number } {
    let offset = 0;
    for (let index = 0; index < tokens.length; index++) {
        if (tokens[index].difficulty >= threshold)
            return { index, offset };
        offset += tokens[index].text.length;
    }
    return { index: -1, offset: -1 };
}

/**
 * Turns raw generated text into ghost text, or undefined when nothing worth showing is left: no markup,
 * no trailing whitespace, nothing that repeats the code after the cursor, and — per the TaH policy — cut before
 * the first hard token, or held back when a hard token comes first.
 */
export function postProcess(raw: Suggestion, options: PostProcessOptions): Suggestion | undefined {
    let suggestion = raw;
    const markupAt = suggestion.text.search(markup);
    if (markupAt !== -1)
        suggestion = truncated(suggestion, markupAt);

    if (options.hardTokenPolicy !== "off") {
        const hard = firstHardOffset(suggestion.tokens, options.hardTokenThreshold);
        if (hard.index !== -1) {
            if (options.hardTokenPolicy === "hide" && hard.index < options.leadingTokens)
                return undefined;
            if (options.hardTokenPolicy === "truncate")
                suggestion = truncated(suggestion, hard.offset);
        }
    }

    const trimmedEnd = suggestion.text.replace(/\s+$/, "").length;
    suggestion = truncated(suggestion, trimmedEnd);
    const overlap = suffixOverlap(suggestion.text, options.suffix);
    if (overlap > 0)
        suggestion = truncated(suggestion, suggestion.text.length - overlap);

    const nextLines = options.suffix.replace(/^[^\n]*\n/, "");
    const text = suggestion.text.trim();
    if (text === "" || (text.length >= 4 && nextLines.trimStart().startsWith(text)))
        return undefined;
    return suggestion;
}
