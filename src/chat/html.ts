// The HTML of the extension's webviews (the chat view, the completion preview). Kept free of the vscode module so
// unit tests can check the pages and their CSP.
import { randomBytes } from "node:crypto";

export interface WebviewPageResources {
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
 * page's nonce (so no inline handlers and no remote code). The toolkit probes for :focus-visible with a <style>
 * element, which the csp-nonce meta lets it sign; without it the probe is refused and focus rings show on click.
 */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
    return [
        "default-src 'none'",
        `img-src ${cspSource} data:`,
        `style-src ${cspSource} 'nonce-${nonce}'`,
        `font-src ${cspSource}`,
        `script-src 'nonce-${nonce}'`,
    ].join("; ");
}

/** A page with the CSP, the view's stylesheet and script, and a static body (trusted markup, no model text). */
export function renderWebviewPage(resources: WebviewPageResources, title: string, body: string): string {
    const csp = escapeAttribute(contentSecurityPolicy(resources.cspSource, resources.nonce));
    return `<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${csp}">
    <meta property="csp-nonce" content="${escapeAttribute(resources.nonce)}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <link rel="stylesheet" href="${escapeAttribute(resources.styleUri)}">
    <title>${escapeAttribute(title)}</title>
</head>
<body>
${body}
    <script nonce="${escapeAttribute(resources.nonce)}" src="${escapeAttribute(resources.scriptUri)}"></script>
</body>
</html>`;
}

/** The chat view's frame: the script adds the controls (webview/chat/chatControls.ts) and fills in the rest. */
export function renderChatHtml(resources: WebviewPageResources): string {
    return renderWebviewPage(resources, "TaH Chat", `    <main id="app">
        <header class="header">
            <h2>TaH Copilot</h2>
        </header>
        <div class="state-line">
            <p id="engine-state" class="state" role="status">Connecting to the extension…</p>
        </div>
        <section id="empty" class="empty">
            <p>Ask about your code. Tick <em>Attach</em> to include the selection, or the whole file when nothing is selected.</p>
            <p>Under each answer, <em>Tokens</em> shows which tokens were hard for the model (the stronger the colour, the
            higher P(hard)), which took the second, latent pass (underlined), and on hover the candidates before and after it.</p>
        </section>
        <section id="messages" role="log" aria-label="Conversation"></section>
        <footer class="composer">
            <p id="notice" role="status" hidden></p>
        </footer>
    </main>`);
}

/** The completion preview: the script shows the current suggestion's tokens. */
export function renderPreviewHtml(resources: WebviewPageResources): string {
    return renderWebviewPage(resources, "TaH Completion Preview", `    <main id="app">
        <h2>Completion preview</h2>
        <p id="where" class="where">Waiting for the extension…</p>
        <pre id="suggestion" class="suggestion" aria-label="Current suggestion"></pre>
        <p id="summary" class="summary"></p>
        <p class="legend">The stronger the colour, the higher P(hard); underlined tokens took the second, latent pass. Hover a token
        for its candidates before and after that pass.</p>
    </main>`);
}
