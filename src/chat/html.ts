// The chat view's HTML. Kept free of the vscode module so unit tests can check the page and its CSP.
import { randomBytes } from "node:crypto";

export interface ChatPageResources {
    /** The webview's `cspSource` (the origin its local resources are served from). */
    readonly cspSource: string;
    readonly scriptUri: string;
    readonly styleUri: string;
    readonly nonce: string;
}

export function createNonce(): string {
    return randomBytes(18).toString("base64");
}

function escapeAttribute(value: string): string {
    return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A strict CSP: nothing by default, styles and fonts only from the extension's own files, scripts only with this
 * page's nonce (so no inline handlers and no remote code).
 */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
    return [
        "default-src 'none'",
        `img-src ${cspSource} data:`,
        `style-src ${cspSource}`,
        `font-src ${cspSource}`,
        `script-src 'nonce-${nonce}'`,
    ].join("; ");
}

export function renderChatHtml(resources: ChatPageResources): string {
    const csp = escapeAttribute(contentSecurityPolicy(resources.cspSource, resources.nonce));
    return `<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${csp}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <link rel="stylesheet" href="${escapeAttribute(resources.styleUri)}">
    <title>TaH Chat</title>
</head>
<body>
    <main id="app">
        <h2>TaH Copilot</h2>
        <p id="engine-state" class="state">The engine is not connected yet.</p>
    </main>
    <script nonce="${escapeAttribute(resources.nonce)}" src="${escapeAttribute(resources.scriptUri)}"></script>
</body>
</html>`;
}
