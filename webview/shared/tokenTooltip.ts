// The tooltip over a token span: its difficulty, whether it iterated, how deep it went with the decider's
// probability at each depth, and the candidates before and after the second pass. Built from DOM nodes with text content only.
import type { CandidateView, TokenView } from "../../src/engine/protocol/engineProtocol.js";
import { depthLine, tokenDepth } from "../../src/difficulty/tokenDepth.js";
import { percent } from "../../src/ui/percent.js";
import { visiblePiece } from "./format.js";
import { tokenOf } from "./tokenSpans.js";

function element<K extends keyof HTMLElementTagNameMap>(document: Document, tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
    const node = document.createElement(tag);
    node.className = className;
    if (text !== undefined)
        node.textContent = text;
    return node;
}

function candidateCell(document: Document, candidate: CandidateView | undefined, chosen: number): HTMLTableCellElement {
    const cell = element(document, "td", "candidate");
    if (candidate === undefined)
        return cell;
    const piece = element(document, "code", candidate.token === chosen ? "piece chosen" : "piece", visiblePiece(candidate.piece));
    cell.append(piece, ` ${percent(candidate.prob)}`);
    return cell;
}

export function iterationNote(token: TokenView): string {
    if (token.difficultyIsProxy)
        return "Plain model: no second pass.";
    if (!token.iterated)
        return "Not iterated: the first pass was kept.";
    return token.changed ? "Iterated: the second pass changed the choice." : "Iterated: the second pass kept the choice.";
}

/** The tooltip's content for one token. */
export function tooltipContent(document: Document, token: TokenView, maxRows = 5): DocumentFragment {
    const fragment = document.createDocumentFragment();
    const head = element(document, "div", "tt-head");
    head.append(
        element(document, "code", "piece", visiblePiece(token.piece)),
        element(document, "span", "tt-difficulty", token.difficultyIsProxy
            ? `difficulty ${percent(token.difficulty)} (proxy: 1 − p(top))`
            : `P(hard) ${percent(token.difficulty)}`),
    );
    fragment.append(head, element(document, "div", "tt-note", iterationNote(token)));
    const depth = tokenDepth(token);
    if (depth !== undefined)
        fragment.append(element(document, "div", "tt-depth", depthLine(depth)));
    const after = token.iterated ? token.after : [];
    const rows = Math.min(maxRows, Math.max(token.before.length, after.length));
    if (rows > 0) {
        const table = element(document, "table", "tt-candidates");
        const headRow = element(document, "tr", "");
        headRow.append(element(document, "th", "", "#"), element(document, "th", "", after.length > 0 ? "first pass" : "candidates"));
        if (after.length > 0)
            headRow.append(element(document, "th", "", "second pass"));
        table.append(headRow);
        for (let i = 0; i < rows; i++) {
            const row = element(document, "tr", "");
            row.append(element(document, "td", "rank", String(i + 1)), candidateCell(document, token.before[i], token.token));
            if (after.length > 0)
                row.append(candidateCell(document, after[i], token.token));
            table.append(row);
        }
        fragment.append(table);
    }
    return fragment;
}

const tooltipId = "tok-tooltip";

/**
 * One tooltip for the page, shown over the token span under the pointer or with the keyboard focus (delegated, so
 * new spans need nothing); the focused span is described by it for screen readers, and Escape hides it.
 */
export function installTokenTooltip(document: Document): void {
    const tooltip = element(document, "div", "tok-tooltip");
    tooltip.id = tooltipId;
    tooltip.setAttribute("role", "tooltip");
    tooltip.hidden = true;
    document.body.append(tooltip);
    let current: Element | undefined;

    const hide = (): void => {
        current?.removeAttribute("aria-describedby");
        current = undefined;
        tooltip.hidden = true;
    };
    const show = (target: EventTarget | null): void => {
        // a node type test rather than instanceof Element: it holds in any window (tests run this in jsdom)
        const node = target as Node | null;
        const span = node?.nodeType === 1 ? (node as Element).closest(".tok") : null;
        const token = span === null ? undefined : tokenOf(span);
        if (span === null || token === undefined) {
            hide();
            return;
        }
        if (span === current)
            return;
        hide();
        current = span;
        span.setAttribute("aria-describedby", tooltipId);
        tooltip.replaceChildren(tooltipContent(document, token));
        tooltip.hidden = false;
        // placed through the CSSOM (allowed under the CSP): below the token, or above it near the bottom
        const view = document.defaultView;
        const box = span.getBoundingClientRect();
        const width = tooltip.offsetWidth;
        const height = tooltip.offsetHeight;
        const viewWidth = view?.innerWidth ?? width;
        const viewHeight = view?.innerHeight ?? height;
        const below = box.bottom + 4;
        tooltip.style.top = `${below + height > viewHeight ? Math.max(0, box.top - height - 4) : below}px`;
        tooltip.style.left = `${Math.max(4, Math.min(box.left, viewWidth - width - 4))}px`;
    };

    document.addEventListener("mouseover", (event) => show(event.target));
    document.addEventListener("focusin", (event) => show(event.target));
    document.addEventListener("focusout", hide);
    document.addEventListener("keydown", (event) => {
        if (event.key === "Escape")
            hide();
    });
    document.addEventListener("scroll", hide, true);
}
