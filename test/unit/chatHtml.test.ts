import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { contentSecurityPolicy, createNonce, renderChatHtml, renderPreviewHtml } from "../../src/chat/html.js";

const resources = {
    cspSource: "https://webview.example",
    scriptUri: "https://webview.example/dist/webview/chat.js",
    styleUri: "https://webview.example/dist/webview/chat.css",
    nonce: "abc123",
};

describe("webview HTML", () => {
    test("the CSP allows nothing by default and scripts only with the nonce", () => {
        const csp = contentSecurityPolicy(resources.cspSource, resources.nonce);
        assert.match(csp, /^default-src 'none'/);
        assert.match(csp, /script-src 'nonce-abc123'(;|$)/);
        assert.match(csp, /style-src https:\/\/webview\.example 'nonce-abc123'(;|$)/);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    });

    for (const [name, render] of [["chat", renderChatHtml], ["completion preview", renderPreviewHtml]] as const) {
        test(`the ${name} page loads only its own script and stylesheet, the script with the nonce`, () => {
            const html = render(resources);
            assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`));
            const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((match) => match[0]);
            assert.deepEqual(scripts, [`<script nonce="abc123" src="${resources.scriptUri}">`]);
            assert.ok(html.includes(`<link rel="stylesheet" href="${resources.styleUri}">`));
            assert.doesNotMatch(html, /\son[a-z]+=/i, "no inline event handlers");
            assert.doesNotMatch(html, /\sstyle=/i, "no inline styles (the CSP would block them)");
            assert.doesNotMatch(html, /(src|href)="https?:\/\/(?!webview\.example)/, "nothing remote");
        });
    }

    test("the chat page has the parts its script fills in, and no engine state until the host says", () => {
        const html = renderChatHtml(resources);
        for (const id of ["engine-state", "messages", "empty", "notice"])
            assert.ok(html.includes(`id="${id}"`), id);
        assert.doesNotMatch(html, /<vscode-/, "the controls come from webview/shared/components.ts, not from markup here");
        assert.doesNotMatch(html, /data-connected/, "set by the script on the host's reply");
    });

    test("attribute values are escaped", () => {
        const html = renderChatHtml({ ...resources, scriptUri: "https://x/\"><script>alert(1)</script>" });
        assert.ok(!html.includes("<script>alert(1)"));
    });

    test("nonces are fresh and long enough", () => {
        const nonces = new Set(Array.from({ length: 100 }, createNonce));
        assert.equal(nonces.size, 100);
        for (const nonce of nonces) assert.ok(nonce.length >= 24);
    });
});
