// Qwen3 writes its reasoning as <think>…</think> before the answer; the engine renders those special tokens in the
// chat text. Shared by the extension host and the webview, which must agree on where the answer starts.

export interface ThinkingSplit {
    /** The reasoning, trimmed; undefined when the text has none. */
    readonly thinking: string | undefined;
    /** False while the reasoning is still being written (no closing tag yet). */
    readonly thinkingDone: boolean;
    /** Where the answer starts in the text: `answer` is `text.slice(answerStart)`. */
    readonly answerStart: number;
    readonly answer: string;
}

const open = "<think>";
const close = "</think>";

function skipWhitespace(text: string, from: number): number {
    let index = from;
    while (index < text.length && /\s/.test(text[index] ?? ""))
        index++;
    return index;
}

/**
 * Splits a model's chat text into its reasoning and its answer. A leading <think> opens the reasoning; a closing
 * tag without an opening one also ends it (some templates put <think> in the prompt, so the answer begins inside it).
 */
export function splitThinking(text: string): ThinkingSplit {
    const start = skipWhitespace(text, 0);
    const opened = text.startsWith(open, start);
    const thinkingFrom = opened ? start + open.length : 0;
    const end = text.indexOf(close, thinkingFrom);
    if (end < 0) {
        if (!opened)
            return { thinking: undefined, thinkingDone: true, answerStart: 0, answer: text };
        return { thinking: text.slice(thinkingFrom).trim(), thinkingDone: false, answerStart: text.length, answer: "" };
    }
    const answerStart = skipWhitespace(text, end + close.length);
    return { thinking: text.slice(thinkingFrom, end).trim(), thinkingDone: true, answerStart, answer: text.slice(answerStart) };
}
