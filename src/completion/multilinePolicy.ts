import type { CompletionContext } from "./completionContext.js";

export type MultilineSetting = "auto" | "always" | "never";

/** Characters after which a block usually opens: a multi-line suggestion is likely wanted. */
const blockOpeners = /[{([:]\s*$|=>\s*$|\b(do|then|else)\s*$/;

/**
 * How many lines a suggestion may span here: one when the cursor sits inside a line (the rest of the line
 * follows), several at the end of a line that opens a block or on an empty line.
 */
export function maxLinesFor(context: CompletionContext, setting: MultilineSetting, maxLines: number): number {
    if (setting === "never")
        return 1;
    if (setting === "always")
        return maxLines;
    if (context.lineSuffix.trim() !== "")
        return 1;
    if (context.linePrefix.trim() === "" || blockOpeners.test(context.linePrefix))
        return maxLines;
    return 1;
}

/**
 * Automatic suggestions are skipped when much code sits right of the cursor (llama.vscode's max_line_suffix):
 * a completion there would have to be spliced into existing text.
 */
export function shouldSkipAutomatic(context: CompletionContext, maxLineSuffix: number): boolean {
    return context.lineSuffix.trim().length > maxLineSuffix;
}

/**
 * Multi-line suggestions end with the block they fill: after a block opener, at the first line back at the opener's
 * indentation or left of it; on an empty line, at the first line left of the cursor (the enclosing block closed).
 * Undefined where the suggestion is a single line.
 */
export function blockStopIndent(context: CompletionContext, maxLines: number): number | undefined {
    if (maxLines <= 1)
        return undefined;
    if (context.linePrefix.trim() === "")
        return context.linePrefix.length;
    if (blockOpeners.test(context.linePrefix))
        return context.linePrefix.length - context.linePrefix.trimStart().length + 1;
    return undefined;
}
