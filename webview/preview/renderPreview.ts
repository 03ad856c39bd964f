// The preview's content for one state: where the suggestion is, its tokens, and a summary of their difficulty.
import { tokenDepth } from "../../src/difficulty/tokenDepth.js";
import { percent } from "../../src/ui/percent.js";
import { hardDifficulty, renderTokenSpans } from "../shared/tokenSpans.js";
import type { PreviewMessage } from "./protocol.js";

function byId(document: Document, id: string): HTMLElement {
    const element = document.getElementById(id);
    if (element === null)
        throw new Error(`the page has no #${id}`);
    return element;
}

export function renderPreview(document: Document, message: PreviewMessage): void {
    const where = byId(document, "where");
    const suggestion = byId(document, "suggestion");
    const summary = byId(document, "summary");
    where.textContent = message.fileName === "" ? "No suggestion yet: type in an editor." : `${message.fileName}, line ${message.line}`;
    const shown = message.suggestion;
    suggestion.classList.toggle("none", shown === undefined);
    if (shown === undefined) {
        suggestion.textContent = "No suggestion";
        summary.textContent = "";
        return;
    }
    const tokens = shown.tokens.filter((token) => token.text !== "");
    // the tokens are trimmed along with the text; should they ever disagree, the text is what the editor shows
    if (tokens.map((token) => token.text).join("") !== shown.text) {
        suggestion.textContent = shown.text;
        summary.textContent = "Token details are not available for this suggestion.";
        return;
    }
    suggestion.replaceChildren(renderTokenSpans(document, tokens));
    const hard = tokens.filter((token) => token.difficulty >= hardDifficulty).length;
    const iterated = tokens.filter((token) => token.iterated).length;
    const proxy = tokens.some((token) => token.difficultyIsProxy);
    const max = tokens.reduce((highest, token) => Math.max(highest, token.difficulty), 0);
    // tokens without a readable depth (plain model, malformed record) are left out of the mean, not counted as 0
    const depths = tokens.map(tokenDepth).flatMap((depth) => depth === undefined ? [] : [depth.depth]);
    const meanDepth = depths.length === 0 ? undefined : depths.reduce((sum, depth) => sum + depth, 0) / depths.length;
    summary.textContent = [
        `${tokens.length} ${tokens.length === 1 ? "token" : "tokens"}`,
        `${hard} hard (${proxy ? "difficulty" : "P(hard)"} ≥ ${percent(hardDifficulty)})`,
        `${iterated} iterated`,
        `highest ${percent(max)}`,
        ...(meanDepth !== undefined ? [`mean depth ${meanDepth.toFixed(2)}, deepest ${Math.max(...depths)}`] : []),
        ...(proxy ? ["difficulty is a proxy (plain model)"] : []),
    ].join(" · ");
}
