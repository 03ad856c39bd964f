/** Where a completion's text ends: its line budget, and for multi-line suggestions the end of the block. */
export interface CompletionStops {
    maxLines: number;
    /**
     * A line after the first whose indentation (in characters) is below this ends the suggestion before it: the block
     * the suggestion was filling has ended. Undefined: only maxLines counts.
     */
    stopBelowIndent?: number;
}

function indentation(line: string): number {
    return line.length - line.trimStart().length;
}

/**
 * How many lines of `text` a suggestion keeps, and whether generation may stop here (what follows cannot change it).
 * A line only ends the block once it has a character that is not white space: until then its indentation may grow.
 */
export function keptLines(text: string, stops: CompletionStops): { lines: number; done: boolean } {
    const lines = text.split("\n");
    if (stops.stopBelowIndent !== undefined) {
        for (let i = 1; i < Math.min(lines.length, stops.maxLines + 1); i++) {
            if (lines[i].trim() !== "" && indentation(lines[i]) < stops.stopBelowIndent)
                return { lines: i, done: true };
        }
    }
    return lines.length > stops.maxLines ? { lines: stops.maxLines, done: true } : { lines: lines.length, done: false };
}
