import type { TokenView } from "../engine/protocol/engineProtocol.js";

/** A token of text the copilot wrote or analysed, where it sits now in its document. */
export interface TrackedToken {
    start: number;
    end: number;
    view: TokenView;
}

/** An edit of a document, as VS Code reports it: offsets into the text before the edit. */
export interface TextChange {
    offset: number;
    deletedLength: number;
    insertedLength: number;
}

/**
 * Follows tokens through an edit: tokens before it stay, tokens after it move, and a token the edit touches is
 * dropped (its text is no longer what the model wrote).
 */
export function applyChange(tokens: readonly TrackedToken[], change: TextChange): TrackedToken[] {
    const changeEnd = change.offset + change.deletedLength;
    const shift = change.insertedLength - change.deletedLength;
    const result: TrackedToken[] = [];
    for (const token of tokens) {
        if (change.offset >= token.end)
            result.push(token);
        else if (changeEnd <= token.start)
            result.push(shift === 0 ? token : { ...token, start: token.start + shift, end: token.end + shift });
    }
    return result;
}

/** Lays token texts end to end from `offset`; tokens without text (an incomplete character) are skipped. */
export function layOut(offset: number, views: readonly TokenView[]): TrackedToken[] {
    const tokens: TrackedToken[] = [];
    let position = offset;
    for (const view of views) {
        if (view.text.length === 0)
            continue;
        tokens.push({ start: position, end: position + view.text.length, view });
        position += view.text.length;
    }
    return tokens;
}
