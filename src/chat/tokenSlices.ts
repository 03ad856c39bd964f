// Token views cover a message's text end to end (each view's `text` is what it added). Shared by the extension
// host (code inserted from the chat) and the webview (the answer shown as tokens).
import type { TokenView } from "../engine/protocol/engineProtocol.js";

/**
 * The views covering exactly text.slice(start, end) of the text the views make up: views partly outside the
 * span keep only the part inside (`text` cut, the rest of the view unchanged), views without text are left out.
 * The result's texts join to the span, the way DifficultyStore's layOut expects.
 */
export function sliceTokens(views: readonly TokenView[], start: number, end: number): TokenView[] {
    const sliced: TokenView[] = [];
    let position = 0;
    for (const view of views) {
        const from = position;
        position += view.text.length;
        if (view.text.length === 0 || position <= start)
            continue;
        if (from >= end)
            break;
        const text = view.text.slice(Math.max(start - from, 0), Math.min(end, position) - from);
        if (text !== "")
            sliced.push(text === view.text ? view : { ...view, text });
    }
    return sliced;
}
