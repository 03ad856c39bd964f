// Text as its tokens: one span per token, coloured by difficulty, underlined when it took the second pass (doubly
// when TaH2 took it deeper still). The token text goes in as text nodes, never as markup.
import { tokenDepth } from "../../src/difficulty/tokenDepth.js";
import type { TokenView } from "../../src/engine/protocol/engineProtocol.js";

/** The token behind each span, for the tooltip. */
const tokenOfSpan = new WeakMap<Element, TokenView>();

export function tokenOf(element: Element): TokenView | undefined {
    return tokenOfSpan.get(element);
}

/** Difficulty at or above which a token counts as hard in summaries (colour intensity follows it continuously). */
export const hardDifficulty = 0.5;

export function renderTokenSpans(document: Document, tokens: readonly TokenView[]): DocumentFragment {
    const fragment = document.createDocumentFragment();
    for (const token of tokens) {
        // a token that ends inside a character has no text of its own: the next one shows the character
        if (token.text === "")
            continue;
        const span = document.createElement("span");
        span.className = "tok";
        span.classList.toggle("hard", token.difficulty >= hardDifficulty);
        // hard tokens are in the tab order, so the keyboard reaches their details (the tooltip shows on focus)
        if (token.difficulty >= hardDifficulty)
            span.tabIndex = 0;
        span.classList.toggle("iterated", token.iterated);
        span.classList.toggle("changed", token.changed);
        span.classList.toggle("proxy", token.difficultyIsProxy);
        const depth = tokenDepth(token)?.depth;
        // past the second pass: only TaH2 goes there
        span.classList.toggle("deep", depth !== undefined && depth >= 2);
        if (depth !== undefined)
            span.dataset.depth = String(depth);
        // a CSS variable set through the CSSOM: allowed under the page's CSP, unlike a style attribute
        span.style.setProperty("--difficulty", Math.min(1, Math.max(0, token.difficulty)).toFixed(3));
        span.textContent = token.text;
        tokenOfSpan.set(span, token);
        fragment.append(span);
    }
    return fragment;
}
