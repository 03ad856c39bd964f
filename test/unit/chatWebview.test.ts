// The webviews' rendering functions, run in a DOM (jsdom) as the webview runs them: model output must stay inert.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JSDOM } from "jsdom";
import type { MessageView } from "../../src/chat/protocol.js";
import type { TokenView } from "../../src/engine/protocol/engineProtocol.js";
import { statsLine } from "../../webview/chat/answerStats.js";
import { createMarkdownRenderer } from "../../webview/chat/markdown.js";
import { ChatMessageView, type MessageActions } from "../../webview/chat/ChatMessageView.js";
import { renderPreview } from "../../webview/preview/renderPreview.js";
import { visiblePiece } from "../../webview/shared/format.js";
import { installTokenTooltip, tooltipContent } from "../../webview/shared/tokenTooltip.js";
import { renderTokenSpans } from "../../webview/shared/tokenSpans.js";

function dom(body = ""): JSDOM {
    return new JSDOM(`<!DOCTYPE html><html><body>${body}</body></html>`);
}

function token(text: string, difficulty: number, extra: Partial<TokenView> = {}): TokenView {
    return {
        token: text.length, piece: text, text, difficulty, difficultyIsProxy: false, iterated: false, changed: false,
        before: [{ token: text.length, piece: text, prob: 1 - difficulty }, { token: 99, piece: " other", prob: difficulty / 2 }],
        after: [],
        ...extra,
    };
}

const xssPayloads = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)><circle/></svg>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<a href=\"javascript:alert(1)\">raw link</a>",
    "<details open ontoggle=alert(1)>x</details>",
    "<style>body { display: none }</style>",
    "<div style=\"position:fixed;inset:0\">cover</div>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](java%0ascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](file:///etc/passwd)",
    "<javascript:alert(1)>",
    "![img](https://tracker.example/x.png)",
    "[t](https://ok.example \"\\\" onmouseover=alert(1) x=\\\"\")",
    "```js\" onmouseover=\"alert(1)\nconsole.log(1)\n```",
    "`<script>alert(1)</script>` and **<b onclick=alert(1)>bold</b>**",
];

/** No element or attribute that could run code or load anything, and only safe links. */
function assertInert(root: DocumentFragment | Element): void {
    for (const tag of ["script", "img", "svg", "iframe", "style", "object", "embed", "form", "input", "link", "meta", "base"])
        assert.equal(root.querySelector(tag), null, `no <${tag}>`);
    for (const element of Array.from(root.querySelectorAll("*"))) {
        for (const attribute of Array.from(element.attributes))
            assert.doesNotMatch(attribute.name, /^on/i, `no event handler attribute on <${element.tagName}>`);
        const href = element.getAttribute("href");
        if (href !== null)
            assert.match(href, /^(https?:|mailto:|#)/i, `a safe link: ${href}`);
    }
}

/** Markdown output in addition has none of the raw HTML the model wrote as markup, and no inline styles. */
function assertInertMarkdown(fragment: DocumentFragment): void {
    assertInert(fragment);
    for (const tag of ["div", "b", "details"])
        assert.equal(fragment.querySelector(tag), null, `no <${tag}>`);
    assert.equal(fragment.querySelector("[style]"), null, "no style attribute");
}

describe("Markdown of model answers", () => {
    const { window } = dom();
    const render = createMarkdownRenderer(window);

    test("renders the Markdown an answer uses", () => {
        const text = "# Title\n\n**bold** and `code`, a [link](https://example.com).\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```ts\nconst x = 1;\n```\n";
        const fragment = render(text);
        assert.equal(fragment.querySelector("h1")?.textContent, "Title");
        assert.equal(fragment.querySelector("strong")?.textContent, "bold");
        assert.equal(fragment.querySelector("a")?.getAttribute("href"), "https://example.com");
        assert.equal(fragment.querySelectorAll("li").length, 2);
        assert.equal(fragment.querySelectorAll("td").length, 2);
        const code = fragment.querySelector("pre > code");
        assert.equal(code?.textContent, "const x = 1;\n");
        assert.equal(code?.className, "language-ts");
        assert.equal(code?.getAttribute("data-line"), String(text.split("\n").indexOf("const x = 1;")), "the code's first line in the answer");
    });

    for (const payload of xssPayloads) {
        test(`stays inert: ${payload}`, () => {
            const fragment = render(`Before\n\n${payload}\n\nafter`);
            assertInertMarkdown(fragment);
            assert.match(fragment.textContent ?? "", /Before[\s\S]*after/);
        });
    }

    test("raw HTML is shown as text, not dropped silently", () => {
        const fragment = render("<script>alert(1)</script>");
        assert.equal(fragment.textContent?.trim(), "<script>alert(1)</script>");
    });
});

describe("an answer in the chat view", () => {
    function setup(view: MessageView): { message: ChatMessageView; inserted: Array<[string, string, number]>; picks: number[] } {
        const { window } = dom();
        const inserted: Array<[string, string, number]> = [];
        const picks: number[] = [];
        const actions: MessageActions = {
            renderMarkdown: createMarkdownRenderer(window),
            copy: () => undefined,
            insert: (id, code, line) => inserted.push([id, code, line]),
            pickModel: () => picks.push(1),
        };
        const message = new ChatMessageView(window.document, view, actions);
        window.document.body.append(message.root);
        return { message, inserted, picks };
    }

    test("thinking is collapsed; code blocks get Copy and Insert; Insert names the block's line", () => {
        const text = "<think>\nThe user wants <b>x</b>.\n</think>\n\nUse this:\n\n```py\nprint(1)\n```\n";
        const { message, inserted } = setup({ id: "a1", role: "assistant", text });
        const details = message.root.querySelector("details.thinking") as HTMLDetailsElement;
        assert.equal(details.hidden, false);
        assert.equal(details.open, false);
        assert.equal(details.querySelector(".thinking-text")?.textContent, "The user wants <b>x</b>.");
        assert.equal(details.querySelector("b"), null, "thinking is text");
        const buttons = Array.from(message.root.querySelectorAll(".code-toolbar vscode-button"));
        assert.deepEqual(buttons.map((button) => button.textContent), ["Copy", "Insert"]);
        (buttons[1] as HTMLElement).click();
        const answerLines = text.slice(text.indexOf("Use this")).split("\n");
        assert.deepEqual(inserted, [["a1", "print(1)", answerLines.indexOf("print(1)")]]);
    });

    test("streamed tokens render once updated; the token switch shows them with their difficulty", () => {
        const { message } = setup({ id: "a2", role: "assistant", text: "", tokens: [], pending: true });
        assert.ok(message.root.querySelector(".answer")?.classList.contains("typing"));
        message.appendTokens([token("Hello", 0.05), token(" world", 0.93, { iterated: true, changed: true }), token("<img src=x onerror=alert(1)>", 0.6)]);
        message.update();
        assert.match(message.root.querySelector(".answer")?.textContent ?? "", /Hello world/);
        message.setShowTokens(true);
        const spans = Array.from(message.root.querySelectorAll<HTMLElement>(".answer .tok"));
        assert.deepEqual(spans.map((span) => span.textContent), ["Hello", " world", "<img src=x onerror=alert(1)>"]);
        assert.equal(spans[1]?.style.getPropertyValue("--difficulty"), "0.930");
        assert.ok(spans[1]?.classList.contains("hard") && spans[1].classList.contains("iterated") && spans[1].classList.contains("changed"));
        assert.ok(!spans[0]?.classList.contains("hard"));
        assertInert(message.root.querySelector(".answer") as Element);
        message.end({ stats: { generatedTokens: 3, iteratedTokens: 1, tokensPerSecond: 12.34, stopReason: "maxTokens", droppedMessages: 0, promptTokens: 20 } });
        message.update();
        assert.equal(message.root.querySelector(".stats")?.textContent, "3 tokens · 12.3 tokens/s · 33% iterated · cut at the limit (tah.chat.maxTokens)");
        message.forgetTokens();
        message.update();
        assert.equal((message.root.querySelector(".token-switch") as HTMLElement).hidden, true);
        assert.equal(message.root.querySelector(".answer .tok"), null);
    });

    test("an engine error shows its hint, and a model picker when there is no model", () => {
        const { message, picks } = setup({
            id: "a3", role: "assistant", text: "",
            error: { code: "noModel", text: "No model is loaded.", hint: "Pick a model to chat with.", action: "pickModel" },
        });
        const error = message.root.querySelector(".error") as HTMLElement;
        assert.equal(error.hidden, false);
        assert.match(error.textContent ?? "", /No model is loaded\.Pick a model to chat with\./);
        (error.querySelector("vscode-button") as HTMLElement).click();
        assert.equal(picks.length, 1);
    });

    test("a question is plain text with its attachment named", () => {
        const { message } = setup({ id: "q", role: "user", text: "<script>alert(1)</script> why?", attachment: "src/a.ts, lines 3–9" });
        assert.equal(message.root.querySelector(".user-text")?.textContent, "<script>alert(1)</script> why?");
        assert.equal(message.root.querySelector(".attachment")?.textContent, "Attached: src/a.ts, lines 3–9");
        assertInert(message.root);
    });

    test("stats read as tokens, speed and the share iterated", () => {
        assert.equal(statsLine({ generatedTokens: 200, iteratedTokens: 9, tokensPerSecond: 40, stopReason: "stopToken", droppedMessages: 2, promptTokens: 5 }),
            "200 tokens · 40.0 tokens/s · 4.5% iterated · 2 earlier messages left out to fit the context");
    });
});

describe("token tooltips", () => {
    test("show P(hard), the iteration and the candidates before and after the second pass", () => {
        const { window } = dom();
        const hard = token(" sort", 0.97, {
            iterated: true, changed: true,
            before: [{ token: 1, piece: " map", prob: 0.55 }, { token: 2, piece: " sort", prob: 0.3 }],
            after: [{ token: 2, piece: " sort", prob: 0.8 }, { token: 1, piece: " map", prob: 0.1 }],
        });
        hard.token = 2;
        const content = window.document.createElement("div");
        content.append(tooltipContent(window.document, hard));
        assert.match(content.querySelector(".tt-difficulty")?.textContent ?? "", /^P\(hard\) 97%$/);
        assert.match(content.textContent ?? "", /the second pass changed the choice/);
        const rows = Array.from(content.querySelectorAll("tr")).map((row) => Array.from(row.children).map((cell) => cell.textContent));
        assert.deepEqual(rows, [["#", "first pass", "second pass"], ["1", "·map 55%", "·sort 80%"], ["2", "·sort 30%", "·map 10%"]]);
        assert.equal(content.querySelectorAll(".chosen").length, 2);
    });

    test("mark a proxy difficulty", () => {
        const { window } = dom();
        const content = window.document.createElement("div");
        content.append(tooltipContent(window.document, token("x", 0.4, { difficultyIsProxy: true })));
        assert.match(content.textContent ?? "", /difficulty 40% \(proxy: 1 − p\(top\)\)/);
        assert.match(content.textContent ?? "", /Plain model: no second pass/);
    });

    test("appear over a token under the pointer, with text content only", () => {
        const { window } = dom();
        installTokenTooltip(window.document);
        const line = window.document.createElement("div");
        line.append(renderTokenSpans(window.document, [token("a", 0.1), token("<b onclick=x>", 0.9)]));
        window.document.body.append(line);
        const tooltip = window.document.querySelector(".tok-tooltip") as HTMLElement;
        assert.equal(tooltip.hidden, true);
        line.children[1]?.dispatchEvent(new window.MouseEvent("mouseover", { bubbles: true }));
        assert.equal(tooltip.hidden, false);
        assert.match(tooltip.textContent ?? "", /<b·onclick=x>/);
        assertInert(tooltip);
        window.document.body.dispatchEvent(new window.MouseEvent("mouseover", { bubbles: true }));
        assert.equal(tooltip.hidden, true);
    });

    test("show whitespace in pieces", () => {
        assert.equal(visiblePiece(" if\n\t"), "·if↵⇥");
        assert.equal(visiblePiece(""), "∅");
    });
});

describe("the completion preview", () => {
    const page = "<p id=\"where\"></p><pre id=\"suggestion\"></pre><p id=\"summary\"></p>";

    test("shows the suggestion's tokens and a summary", () => {
        const { window } = dom(page);
        const tokens = [token("return", 0.2), token(" a", 0.95, { iterated: true }), token("", 0.5), token(" + b;", 0.6)];
        renderPreview(window.document, { type: "suggestion", suggestion: { text: "return a + b;", tokens }, fileName: "src/sum.ts", line: 3 });
        assert.equal(window.document.getElementById("where")?.textContent, "src/sum.ts, line 3");
        const spans = Array.from(window.document.querySelectorAll("#suggestion .tok"));
        assert.deepEqual(spans.map((span) => span.textContent), ["return", " a", " + b;"]);
        assert.equal(window.document.getElementById("summary")?.textContent, "3 tokens · 2 hard (P(hard) ≥ 50%) · 1 iterated · highest 95% · mean depth 0.33, deepest 1");
    });

    test("says when there is no suggestion, and renders model text as text", () => {
        const { window } = dom(page);
        renderPreview(window.document, { type: "suggestion", suggestion: undefined, fileName: "a.ts", line: 1 });
        assert.equal(window.document.getElementById("suggestion")?.textContent, "No suggestion");
        const hostile = "<img src=x onerror=alert(1)>";
        renderPreview(window.document, { type: "suggestion", suggestion: { text: hostile, tokens: [token(hostile, 0.3, { difficultyIsProxy: true })] }, fileName: "a.ts", line: 1 });
        assertInert(window.document.body);
        assert.equal(window.document.getElementById("suggestion")?.textContent, hostile);
        assert.match(window.document.getElementById("summary")?.textContent ?? "", /difficulty is a proxy/);
    });
});
