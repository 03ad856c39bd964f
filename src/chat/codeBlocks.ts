// Code inserted from a chat answer keeps its difficulty: the tokens that wrote it are found in the answer's tokens.
import type { TokenView } from "../engine/protocol/engineProtocol.js";
import { splitThinking } from "./thinking.js";
import { sliceTokens } from "./tokenSlices.js";

/** Where line `line` (0-based, "\n" separated, as Markdown parsers count) starts in `text`. */
function lineStart(text: string, line: number): number | undefined {
    let offset = 0;
    for (let current = 0; current < line; current++) {
        const next = text.indexOf("\n", offset);
        if (next < 0)
            return undefined;
        offset = next + 1;
    }
    return offset;
}

/**
 * Where a code block's text sits in a message's text. `line` is the block's first content line in the answer (the
 * webview's Markdown parser reports it). A block inside a list or quote has its indentation removed and is no
 * longer a substring: then only an unambiguous match elsewhere in the answer is taken, else undefined.
 */
export function locateCode(messageText: string, code: string, line: number): number | undefined {
    if (code.length === 0)
        return undefined;
    const { answerStart, answer } = splitThinking(messageText);
    const hinted = lineStart(answer, line);
    if (hinted !== undefined && answer.startsWith(code, hinted))
        return answerStart + hinted;
    const first = answer.indexOf(code);
    if (first >= 0 && answer.indexOf(code, first + 1) < 0)
        return answerStart + first;
    return undefined;
}

/** The token views that wrote `code` of a message, cut to exactly its text; undefined when it cannot be placed. */
export function codeTokens(messageText: string, views: readonly TokenView[], code: string, line: number): TokenView[] | undefined {
    const start = locateCode(messageText, code, line);
    return start === undefined ? undefined : sliceTokens(views, start, start + code.length);
}
