// How deep each token went, as the hover, the heatmap, the chat's Tokens view and the completion preview show it
// (jsdom for the webview parts): TaH2's depths and decider probabilities, TaH v1's depth 0/1, and hostile records
// (NaN, strings for numbers, huge arrays) that must render as "no depth known", never as markup or a long page.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JSDOM } from "jsdom";
import { depthLine, depthMark, maxDepths, tokenDepth } from "../../src/difficulty/tokenDepth.js";
import { hoverMarkdown } from "../../src/difficulty/hoverContent.js";
import type { TokenView } from "../../src/engine/protocol/engineProtocol.js";
import { createMarkdownRenderer } from "../../webview/chat/markdown.js";
import { ChatMessageView } from "../../webview/chat/ChatMessageView.js";
import { renderPreview } from "../../webview/preview/renderPreview.js";
import { tooltipContent } from "../../webview/shared/tokenTooltip.js";
import { renderTokenSpans } from "../../webview/shared/tokenSpans.js";
import { checkedPreviewMessage } from "../../webview/preview/protocol.js";
import { checkedTokenView, checkedTokenViews, maxCandidates, maxTokensPerMessage } from "../../webview/shared/tokenViews.js";

function token(text: string, extra: Partial<TokenView> = {}): TokenView {
    return { token: 1, piece: text, text, difficulty: 0.8, difficultyIsProxy: false, iterated: true, changed: false, before: [], after: [], ...extra };
}

/** TaH2 with 3 depths: one that stopped after depth 1 (decider below the threshold there), one that ran all three. */
const stoppedAtOne = token(" a", { depth: 1, pContinue: [0.8, 0.3] });
const ranAll = token(" b", { depth: 2, pContinue: [0.9, 0.7] });
const v1Iterated = token(" c", { difficulty: 0.97, depth: 1, pContinue: [0.97] });
const v1Kept = token(" d", { difficulty: 0.2, iterated: false, depth: 0, pContinue: [0.2] });
/** An engine that predates depth and pContinue: TaH v1's depth comes from `iterated`. */
const older = token(" e", { difficulty: 0.6 });
const plain = token(" f", { difficultyIsProxy: true, iterated: false, depth: 0, pContinue: [] });

const hostile: Array<[string, TokenView]> = [
    ["NaN depth", token("x", { depth: Number.NaN, pContinue: [0.5] })],
    ["a string depth", token("x", { depth: "2" as unknown as number, pContinue: [0.5, 0.5] })],
    ["a fractional depth", token("x", { depth: 1.5, pContinue: [0.5] })],
    ["a negative depth", token("x", { depth: -1, pContinue: [] })],
    ["a depth past any model", token("x", { depth: 1e9, pContinue: [0.5] })],
    ["a huge pContinue", token("x", { depth: 2, pContinue: new Array<number>(100_000).fill(0.5) })],
    ["a huge depth with a huge pContinue", token("x", { depth: 100_000, pContinue: new Array<number>(100_000).fill(0.5) })],
    ["NaN in pContinue", token("x", { depth: 1, pContinue: [0.5, Number.NaN] })],
    ["a string in pContinue", token("x", { depth: 1, pContinue: ["<img src=x onerror=alert(1)>" as unknown as number] })],
    ["a probability above 1", token("x", { depth: 1, pContinue: [0.5, 7] })],
    ["pContinue not an array", token("x", { depth: 1, pContinue: "0.5,0.5" as unknown as number[] })],
    ["depth without pContinue", token("x", { depth: 1 })],
];

describe("a token's depth, read from its view", () => {
    test("TaH2: the depth field, not the length of pContinue (the last depth has no decider)", () => {
        assert.deepEqual(tokenDepth(stoppedAtOne), { depth: 1, pContinue: [0.8, 0.3] });
        assert.deepEqual(tokenDepth(ranAll), { depth: 2, pContinue: [0.9, 0.7] });
        assert.deepEqual(tokenDepth(v1Iterated), { depth: 1, pContinue: [0.97] });
        assert.deepEqual(tokenDepth(v1Kept), { depth: 0, pContinue: [0.2] });
        assert.deepEqual(tokenDepth(older), { depth: 1, pContinue: [0.6] }, "an older engine's iterated v1 token is at depth 1");
        assert.deepEqual(tokenDepth({ ...older, iterated: false }), { depth: 0, pContinue: [0.6] });
        assert.equal(tokenDepth(plain), undefined, "a plain model has no depth");
    });

    for (const [name, view] of hostile)
        test(`reads as unknown: ${name}`, () => assert.equal(tokenDepth(view), undefined));

    test("depth lines and heatmap marks", () => {
        assert.equal(depthLine({ depth: 2, pContinue: [0.9, 0.7] }), "depth 2 (ran depths 0–2) · decider: d0 90% → d1 70%");
        assert.equal(depthLine({ depth: 0, pContinue: [0.2] }), "depth 0 (first pass only) · decider: d0 20%");
        assert.deepEqual([v1Kept, v1Iterated, stoppedAtOne, ranAll, token("x", { depth: 7, pContinue: [] }), plain, hostile[0][1]].map(depthMark), [-1, 0, 0, 1, 2, -1, -1]);
        assert.ok(maxDepths >= 8, "upstream's deepest recipe fits");
    });

    test("the hover shows TaH2's depths from the depth field, and nothing for a hostile record", () => {
        assert.match(hoverMarkdown(ranAll, "analysis"), /Ran 3 depths \(deepest: 2\); the decider's continue probability at each: 90%, 70%\./);
        assert.match(hoverMarkdown(stoppedAtOne, "analysis"), /Ran 2 depths \(deepest: 1\); the decider's continue probability at each: 80%, 30%\./);
        for (const [name, view] of hostile)
            assert.doesNotMatch(hoverMarkdown(view, "analysis"), /Ran \d|NaN|onerror/, name);
    });
});

function dom(body = ""): JSDOM {
    return new JSDOM(`<!DOCTYPE html><html><body>${body}</body></html>`);
}

function tooltipText(document: Document, view: TokenView): { depth: string | undefined; all: string } {
    const holder = document.createElement("div");
    holder.append(tooltipContent(document, view));
    return { depth: holder.querySelector(".tt-depth")?.textContent ?? undefined, all: holder.textContent ?? "" };
}

describe("depth in the webviews", () => {
    test("token spans carry their depth; past depth 1 they are marked deep", () => {
        const { window } = dom();
        const holder = window.document.createElement("div");
        holder.append(renderTokenSpans(window.document, [v1Kept, v1Iterated, stoppedAtOne, ranAll, plain]));
        const spans = Array.from(holder.querySelectorAll<HTMLElement>(".tok"));
        assert.deepEqual(spans.map((span) => span.dataset.depth), ["0", "1", "1", "2", undefined]);
        assert.deepEqual(spans.map((span) => span.classList.contains("deep")), [false, false, false, true, false]);
    });

    test("the tooltip says how deep the token went and the decider's probability at each depth", () => {
        const { window } = dom();
        assert.equal(tooltipText(window.document, ranAll).depth, "depth 2 (ran depths 0–2) · decider: d0 90% → d1 70%");
        assert.equal(tooltipText(window.document, stoppedAtOne).depth, "depth 1 (ran depths 0–1) · decider: d0 80% → d1 30%");
        assert.equal(tooltipText(window.document, v1Iterated).depth, "depth 1 (ran depths 0–1) · decider: d0 97%");
        assert.equal(tooltipText(window.document, v1Kept).depth, "depth 0 (first pass only) · decider: d0 20%");
        assert.equal(tooltipText(window.document, plain).depth, undefined);
    });

    test("hostile records render inert: no depth line, no depth attribute, no markup, a short tooltip", () => {
        const { window } = dom();
        for (const [name, view] of hostile) {
            const { depth, all } = tooltipText(window.document, view);
            assert.equal(depth, undefined, name);
            assert.ok(all.length < 200, `${name}: ${all.length} characters`);
            const holder = window.document.createElement("div");
            holder.append(renderTokenSpans(window.document, [view]));
            const span = holder.querySelector<HTMLElement>(".tok");
            assert.equal(span?.dataset.depth, undefined, name);
            assert.equal(holder.querySelector("img"), null, name);
        }
    });

    test("the chat's Tokens view shows each token's depth", () => {
        const { window } = dom();
        const message = new ChatMessageView(window.document, { id: "a1", role: "assistant", text: "", tokens: [], pending: true }, {
            renderMarkdown: createMarkdownRenderer(window), copy: () => undefined, insert: () => undefined, pickModel: () => undefined,
        });
        window.document.body.append(message.root);
        message.appendTokens([v1Kept, stoppedAtOne, ranAll, hostile[5][1]]);
        message.setShowTokens(true);
        message.update();
        const spans = Array.from(message.root.querySelectorAll<HTMLElement>(".answer .tok"));
        assert.deepEqual(spans.map((span) => span.dataset.depth), ["0", "1", "2", undefined]);
    });

    test("the completion preview's summary gives the mean and deepest depth, leaving out tokens of unknown depth", () => {
        const page = "<p id=\"where\"></p><pre id=\"suggestion\"></pre><p id=\"summary\"></p>";
        const { window } = dom(page);
        const tokens = [v1Kept, stoppedAtOne, ranAll, hostile[0][1]];
        renderPreview(window.document, { type: "suggestion", suggestion: { text: tokens.map((view) => view.text).join(""), tokens }, fileName: "a.ts", line: 1 });
        assert.match(window.document.getElementById("summary")?.textContent ?? "", / · mean depth 1\.00, deepest 2$/);
        assert.deepEqual(Array.from(window.document.querySelectorAll<HTMLElement>("#suggestion .tok")).map((span) => span.dataset.depth), ["0", "1", "2", undefined]);
    });
});

describe("token views as a webview message brings them", () => {
    test("well-formed views of every kind pass unchanged", () => {
        const candidates = { before: [{ token: 3, piece: " x", prob: 0.6 }], after: [{ token: 4, piece: " y", prob: 0.7 }] };
        for (const view of [{ ...ranAll, ...candidates }, stoppedAtOne, v1Iterated, v1Kept, older])
            assert.deepEqual(checkedTokenView(view), view);
        const checkedPlain = checkedTokenView(plain);
        assert.deepEqual([checkedPlain?.text, checkedPlain?.difficulty, checkedPlain?.difficultyIsProxy], [plain.text, plain.difficulty, true]);
        assert.ok(checkedPlain !== undefined && !("depth" in checkedPlain), "a plain model's depth record carries nothing to show");
    });

    test("a record without the protocol's shape is dropped, a hostile depth record included", () => {
        for (const [name, view] of hostile)
            assert.equal(checkedTokenView(view), undefined, name);
        const bad: unknown[] = [null, 7, "x", [], { ...ranAll, text: 5 }, { ...ranAll, difficulty: Number.NaN }, { ...ranAll, difficulty: "0.5" },
            { ...ranAll, iterated: "yes" }, { ...ranAll, before: "none" }, { ...ranAll, after: [{ token: 1, piece: "a", prob: Number.NaN }] }, { ...ranAll, difficulty: Number.POSITIVE_INFINITY }];
        for (const item of bad)
            assert.equal(checkedTokenView(item), undefined, JSON.stringify(item));
        assert.deepEqual(checkedTokenViews([ranAll, ...bad, v1Kept]), [ranAll, v1Kept]);
        assert.deepEqual(checkedTokenViews("not a list"), []);
    });

    test("arrays are bounded: the token list and each candidate list", () => {
        const many = new Array<TokenView>(maxTokensPerMessage + 1000).fill(v1Kept);
        assert.equal(checkedTokenViews(many).length, maxTokensPerMessage);
        const candidates = Array.from({ length: 1000 }, (_, i) => ({ token: i, piece: String(i), prob: 0.001 }));
        assert.equal(checkedTokenView({ ...ranAll, before: candidates, after: candidates })?.before.length, maxCandidates);
        assert.deepEqual([checkedTokenView({ ...ranAll, difficulty: 1 + 1e-7 })?.difficulty, checkedTokenView({ ...ranAll, after: [{ token: 1, piece: "a", prob: -1e-9 }] })?.after[0]?.prob],
            [1, 0], "a hair outside [0, 1] from float rounding is clamped, not dropped");
    });

    test("the preview renders only a checked message", () => {
        assert.equal(checkedPreviewMessage({ type: "other" }), undefined);
        assert.equal(checkedPreviewMessage({ type: "suggestion", suggestion: { text: 5, tokens: [] }, fileName: "a", line: 1 }), undefined);
        assert.equal(checkedPreviewMessage({ type: "suggestion", suggestion: undefined, fileName: 1, line: 1 }), undefined);
        assert.deepEqual(checkedPreviewMessage({ type: "suggestion", suggestion: undefined, fileName: "a", line: 1 }), { type: "suggestion", suggestion: undefined, fileName: "a", line: 1 });
        const message = checkedPreviewMessage({ type: "suggestion", suggestion: { text: " a b", tokens: [stoppedAtOne, hostile[5][1], ranAll] }, fileName: "a.ts", line: 2 });
        assert.deepEqual(message?.suggestion?.tokens, [stoppedAtOne, ranAll]);
    });
});
