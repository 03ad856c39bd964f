// The UI toolkit behind one door, and the chat's controls as a keyboard and screen-reader user meets them.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { JSDOM } from "jsdom";
import { renderChatHtml } from "../../src/chat/html.js";
import type { TokenView } from "../../src/engine/protocol/engineProtocol.js";
import { composerKeyAction, createChatControls } from "../../webview/chat/chatControls.js";
import { installTokenTooltip } from "../../webview/shared/tokenTooltip.js";
import { renderTokenSpans } from "../../webview/shared/tokenSpans.js";

const root = path.resolve(import.meta.dirname, "..", "..");

function sourceFiles(dir: string): string[] {
    return fs.readdirSync(path.join(root, dir), { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith(".ts"))
        .map((file) => path.join(dir, file));
}

function token(text: string, difficulty: number): TokenView {
    return { token: 1, piece: text, text, difficulty, difficultyIsProxy: false, iterated: difficulty > 0.5, changed: false, before: [], after: [] };
}

describe("the webview toolkit behind one door", () => {
    test("exactly one module of webview/ imports @vscode/webview-ui-toolkit", () => {
        const importers = sourceFiles("webview").filter((file) => fs.readFileSync(path.join(root, file), "utf8").includes("@vscode/webview-ui-toolkit"));
        assert.deepEqual(importers, [path.join("webview", "shared", "components.ts")]);
    });

    test("no other file names the toolkit's elements", () => {
        const naming = [...sourceFiles("webview"), ...sourceFiles("src")]
            .filter((file) => file !== path.join("webview", "shared", "components.ts"))
            .filter((file) => /["'<]vscode-(button|checkbox|text-area|progress-ring)\b/.test(fs.readFileSync(path.join(root, file), "utf8")));
        assert.deepEqual(naming, []);
    });
});

describe("the chat's controls", () => {
    const resources = { cspSource: "https://webview.example", scriptUri: "https://webview.example/chat.js", styleUri: "https://webview.example/chat.css", nonce: "n" };

    function page(): { document: Document; controls: ReturnType<typeof createChatControls> } {
        const { window } = new JSDOM(renderChatHtml(resources));
        return { document: window.document, controls: createChatControls(window.document) };
    }

    test("every control is in the page, named for a screen reader, in reading order", () => {
        const { document, controls } = page();
        for (const id of ["new-chat", "pick-model", "attach", "prompt", "send", "stop", "busy"])
            assert.ok(document.getElementById(id) !== null, id);
        assert.equal(controls.prompt.getAttribute("aria-label"), "Message to TaH");
        assert.equal(controls.busy.getAttribute("aria-label"), "Answering");
        for (const button of [controls.newChat, controls.pickModel, controls.send, controls.stop, controls.attach])
            assert.notEqual(button.textContent?.trim(), "", button.id);
        assert.equal(controls.stop.hidden, true);
        assert.equal(controls.pickModel.hidden, true);
        const composer = document.querySelector(".composer");
        assert.deepEqual(Array.from(composer?.children ?? [], (child) => child.id || child.className), ["attach", "prompt", "actions", "notice"]);
        assert.equal(document.getElementById("engine-state")?.getAttribute("role"), "status", "state changes are announced");
    });

    test("Enter sends, Shift+Enter is a new line, Escape stops only an answer in progress, an IME composition is left alone", () => {
        const key = (key: string, shiftKey = false, isComposing = false): { key: string; shiftKey: boolean; isComposing: boolean } => ({ key, shiftKey, isComposing });
        assert.equal(composerKeyAction(key("Enter"), false), "send");
        assert.equal(composerKeyAction(key("Enter", true), false), undefined);
        assert.equal(composerKeyAction(key("Enter", false, true), false), undefined);
        assert.equal(composerKeyAction(key("Escape"), true), "stop");
        assert.equal(composerKeyAction(key("Escape"), false), undefined);
        assert.equal(composerKeyAction(key("a"), false), undefined);
    });
});

describe("token details from the keyboard", () => {
    test("hard tokens are in the tab order; focus shows the tooltip and describes the token by it; Escape hides it", () => {
        const { window } = new JSDOM("<!DOCTYPE html><html><body><pre id='s'></pre></body></html>");
        const document = window.document;
        installTokenTooltip(document);
        const pre = document.getElementById("s");
        assert.ok(pre !== null);
        pre.append(renderTokenSpans(document, [token("easy", 0.1), token(" hard", 0.9)]));
        const [easy, hard] = Array.from(pre.querySelectorAll<HTMLElement>(".tok"));
        assert.ok(easy !== undefined && hard !== undefined);
        assert.equal(easy.tabIndex, -1, "easy tokens stay out of the tab order");
        assert.equal(hard.tabIndex, 0);
        const tooltip = document.querySelector<HTMLElement>("[role=tooltip]");
        assert.ok(tooltip !== null);
        hard.focus();
        assert.equal(tooltip.hidden, false);
        assert.equal(hard.getAttribute("aria-describedby"), tooltip.id);
        assert.match(tooltip.textContent ?? "", /P\(hard\) 90%/);
        document.dispatchEvent(new window.KeyboardEvent("keydown", { key: "Escape" }));
        assert.equal(tooltip.hidden, true);
        assert.equal(hard.getAttribute("aria-describedby"), null);
    });

    test("high contrast themes mark hard tokens with the theme's border, not only a tint", () => {
        const css = fs.readFileSync(path.join(root, "webview", "shared", "tokens.css"), "utf8");
        for (const theme of ["vscode-high-contrast", "vscode-high-contrast-light"])
            assert.match(css, new RegExp(`body\\.${theme} \\.tok\\.hard[^{]*\\{[^}]*outline:[^}]*--vscode-contrastBorder`), theme);
        assert.match(css, /@media \(forced-colors: active\)[^{]*\{\s*\.tok\.hard/);
    });
});
