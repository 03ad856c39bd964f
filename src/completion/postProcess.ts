import type { TokenView } from "../engine/protocol/engineProtocol.js";

export type HardTokenPolicy = "off" | "truncate" | "hide";

export interface PostProcessOptions {
    suffix: string;
    /** The most lines of ghost text (the engine stops on the token that starts one more, and sends it whole). */
    maxLines: number;
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

/**
 * Offset of the first token whose decider difficulty reaches the threshold, or -1. A plain model's proxy difficulty
 * (1 − its top probability) is not what the threshold was chosen for, so it never counts as hard here.
 */
function firstHardOffset(tokens: readonly TokenView[], threshold: number): { index: number; offset: number } {
    let offset = 0;
    for (let index = 0; index < tokens.length; index++) {
        if (!tokens[index].difficultyIsProxy && tokens[index].difficulty >= threshold)
            return { index, offset };
        offset += tokens[index].text.length;
    }
    return { index: -1, offset: -1 };
}

/** One step of shaping: the suggestion cut shorter, or undefined when nothing worth showing is left. */
type Step = (suggestion: Suggestion, options: PostProcessOptions) => Suggestion | undefined;

/** Markup a model may still produce as text is never part of ghost text. */
const cutAtMarkup: Step = (suggestion) => {
    const at = suggestion.text.search(markup);
    return at === -1 ? suggestion : truncated(suggestion, at);
};

/** No more than maxLines lines: the surplus line the engine's last token may have started goes. */
const cutToMaxLines: Step = (suggestion, options) =>
    truncated(suggestion, suggestion.text.split("\n").slice(0, options.maxLines).join("\n").length);

/** The TaH policy: cut before the first hard token, or hold the suggestion back when one comes first. */
const applyHardTokenPolicy: Step = (suggestion, options) => {
    if (options.hardTokenPolicy === "off")
        return suggestion;
    const hard = firstHardOffset(suggestion.tokens, options.hardTokenThreshold);
    if (hard.index === -1)
        return suggestion;
    if (options.hardTokenPolicy === "hide")
        return hard.index < options.leadingTokens ? undefined : suggestion;
    return truncated(suggestion, hard.offset);
};

const trimTrailingWhitespace: Step = (suggestion) => truncated(suggestion, suggestion.text.replace(/\s+$/, "").length);

/** What the code after the cursor already has is not suggested again. */
const cutSuffixOverlap: Step = (suggestion, options) =>
    truncated(suggestion, suggestion.text.length - suffixOverlap(suggestion.text, options.suffix));

/** Nothing left, or only a repeat of the lines that follow the cursor: no suggestion. */
const refuseEmptyOrRepeat: Step = (suggestion, options) => {
    const nextLines = options.suffix.replace(/^[^\n]*\n/, "");
    const text = suggestion.text.trim();
    return text === "" || (text.length >= 4 && nextLines.trimStart().startsWith(text)) ? undefined : suggestion;
};

/** All of the host's shaping of ghost text, in order; the engine only stops and says why. */
const steps: readonly Step[] = [cutAtMarkup, cutToMaxLines, applyHardTokenPolicy, trimTrailingWhitespace, cutSuffixOverlap, refuseEmptyOrRepeat];

/** Turns raw generated text into ghost text, or undefined when nothing worth showing is left. */
export function postProcess(raw: Suggestion, options: PostProcessOptions): Suggestion | undefined {
    let suggestion: Suggestion | undefined = raw;
    for (const step of steps) {
        suggestion = step(suggestion, options);
        if (suggestion === undefined)
            return undefined;
    }
    return suggestion;
}
