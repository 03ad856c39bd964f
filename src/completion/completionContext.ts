/** What the model sees around the cursor, cut at line boundaries so the prompt's start stays stable while typing. */
export interface CompletionContext {
    prefix: string;
    suffix: string;
    /** Text of the cursor's line before / after the cursor. */
    linePrefix: string;
    lineSuffix: string;
}

export interface ContextBudget {
    prefixLines: number;
    suffixLines: number;
    /** Hard caps in characters, for files with very long lines. */
    maxPrefixChars: number;
    maxSuffixChars: number;
}

/**
 * The prefix window starts on a line number that is a multiple of this: it holds prefixLines to prefixLines + stride - 1
 * lines, and typing a new line leaves its start, and so every cached token of the prompt, in place.
 */
export const prefixWindowStride = 16;

function newlinesBefore(text: string, end: number): number {
    let count = 0;
    for (let at = text.indexOf("\n"); at !== -1 && at < end; at = text.indexOf("\n", at + 1))
        count++;
    return count;
}

/**
 * The context around `offset` in `text`, whose first line is line `firstLine` of the document (a caller that passes a
 * window of the document says where it starts, so the prefix window's start lands on the same document lines).
 */
export function extractContext(text: string, offset: number, budget: ContextBudget, firstLine = 0): CompletionContext {
    const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
    const lineEndIndex = text.indexOf("\n", offset);
    const lineEnd = lineEndIndex === -1 ? text.length : lineEndIndex;

    const cursorLine = firstLine + newlinesBefore(text, lineStart);
    const startLine = Math.max(0, Math.floor((cursorLine - budget.prefixLines) / prefixWindowStride) * prefixWindowStride);
    let prefixStart = lineStart;
    for (let lines = 0; lines < cursorLine - startLine && prefixStart > 0; lines++)
        prefixStart = text.lastIndexOf("\n", prefixStart - 2) + 1;
    if (offset - prefixStart > budget.maxPrefixChars) {
        // keep whole lines when possible: start at the first line break inside the allowed window
        const windowStart = offset - budget.maxPrefixChars;
        const nextLine = text.indexOf("\n", windowStart);
        prefixStart = nextLine !== -1 && nextLine < lineStart ? nextLine + 1 : windowStart;
    }

    let suffixEnd = lineEnd;
    for (let lines = 0; lines < budget.suffixLines && suffixEnd < text.length; lines++) {
        const next = text.indexOf("\n", suffixEnd + 1);
        suffixEnd = next === -1 ? text.length : next;
    }
    suffixEnd = Math.min(suffixEnd, offset + budget.maxSuffixChars);

    return {
        prefix: text.slice(prefixStart, offset),
        suffix: text.slice(offset, suffixEnd),
        linePrefix: text.slice(lineStart, offset),
        lineSuffix: text.slice(offset, lineEnd)
    };
}
