import * as vscode from "vscode";
import { createNonce, type WebviewPageResources } from "../chat/html.js";

/**
 * Puts one of the extension's pages into a webview: scripts on, only dist/webview readable, and the page rendered
 * with that webview's origin, the bundle's script and stylesheet, and a fresh nonce (the chat view and the preview).
 */
export function loadWebviewPage(webview: vscode.Webview, extensionUri: vscode.Uri, bundle: "chat" | "preview", render: (resources: WebviewPageResources) => string): void {
    const root = vscode.Uri.joinPath(extensionUri, "dist", "webview");
    webview.options = { enableScripts: true, localResourceRoots: [root] };
    webview.html = render({
        cspSource: webview.cspSource,
        scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(root, `${bundle}.js`)).toString(),
        styleUri: webview.asWebviewUri(vscode.Uri.joinPath(root, `${bundle}.css`)).toString(),
        nonce: createNonce()
    });
}
