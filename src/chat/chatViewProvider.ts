import * as vscode from "vscode";
import { createNonce, renderChatHtml } from "./html.js";
import { type HostMessage, webviewMessageSchema } from "./protocol.js";

/**
 * The chat side panel. For now it only renders the page and answers the webview's "ready" with the engine state;
 * the chat itself arrives with the engine.
 */
export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
    /** One entry per live webview: its subscriptions, removed when VS Code disposes that webview. */
    private readonly views = new Set<vscode.Disposable>();
    private readonly readyEmitter = new vscode.EventEmitter<void>();
    /** Fires each time a webview of this view has loaded its script and said "ready". */
    readonly onDidBecomeReady = this.readyEmitter.event;

    constructor(
        private readonly extensionUri: vscode.Uri,
        private readonly log: vscode.LogOutputChannel,
    ) {}

    resolveWebviewView(view: vscode.WebviewView): void {
        const webviewRoot = vscode.Uri.joinPath(this.extensionUri, "dist", "webview");
        view.webview.options = { enableScripts: true, localResourceRoots: [webviewRoot] };
        view.webview.html = renderChatHtml({
            cspSource: view.webview.cspSource,
            scriptUri: view.webview.asWebviewUri(vscode.Uri.joinPath(webviewRoot, "chat.js")).toString(),
            styleUri: view.webview.asWebviewUri(vscode.Uri.joinPath(webviewRoot, "chat.css")).toString(),
            nonce: createNonce(),
        });
        const messages = view.webview.onDidReceiveMessage((raw: unknown) => {
            const parsed = webviewMessageSchema.safeParse(raw);
            if (!parsed.success) {
                this.log.warn(`chat view: ignored an invalid message: ${parsed.error.message}`);
                return;
            }
            // The only message so far is "ready".
            const reply: HostMessage = { type: "state", connected: false, text: "The engine is not connected yet." };
            void view.webview.postMessage(reply);
            this.readyEmitter.fire();
        });
        const perView = vscode.Disposable.from(messages, view.onDidDispose(() => {
            perView.dispose();
            this.views.delete(perView);
        }));
        this.views.add(perView);
        this.log.info("chat view resolved");
    }

    dispose(): void {
        for (const perView of this.views) perView.dispose();
        this.views.clear();
        this.readyEmitter.dispose();
    }
}
