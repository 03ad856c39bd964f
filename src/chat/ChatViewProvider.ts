import * as vscode from "vscode";
import type { DifficultyStore } from "../difficulty/DifficultyStore.js";
import { ChatHistory } from "./ChatHistory.js";
import { type ChatEngine, ChatSession } from "./ChatSession.js";
import { loadWebviewPage } from "../ui/webviewPage.js";
import { renderChatHtml } from "./html.js";
import { type HostMessage, parseWebviewMessage } from "./protocol.js";

/**
 * The chat side panel: renders the page under a strict CSP, validates what the webview sends and hands it to the
 * ChatSession, which holds the conversation (so a webview that was hidden and comes back shows it as it was).
 */
export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
    private view: vscode.WebviewView | undefined;
    private viewSubscriptions: vscode.Disposable | undefined;
    private readonly session: ChatSession;
    private readonly readyEmitter = new vscode.EventEmitter<void>();
    /** Fires each time a webview of this view has loaded its script and said "ready". */
    readonly onDidBecomeReady = this.readyEmitter.event;

    constructor(
        private readonly extensionUri: vscode.Uri,
        private readonly log: vscode.LogOutputChannel,
        engine: ChatEngine,
        difficultyStore: Pick<DifficultyStore, "addWritten">,
        workspaceState: vscode.Memento,
    ) {
        this.session = new ChatSession(engine, difficultyStore, new ChatHistory(workspaceState), (message) => this.post(message), log);
    }

    resolveWebviewView(view: vscode.WebviewView): void {
        this.viewSubscriptions?.dispose();
        this.view = view;
        loadWebviewPage(view.webview, this.extensionUri, "chat", renderChatHtml);
        const subscriptions = vscode.Disposable.from(
            view.webview.onDidReceiveMessage((raw: unknown) => this.received(raw)),
            view.onDidDispose(() => {
                subscriptions.dispose();
                if (this.view === view) {
                    this.view = undefined;
                    this.viewSubscriptions = undefined;
                }
            }),
        );
        this.viewSubscriptions = subscriptions;
        this.log.info("chat view resolved");
    }

    private received(raw: unknown): void {
        const parsed = parseWebviewMessage(raw);
        if (!parsed.ok) {
            this.log.warn(`chat view: refused a message: ${parsed.detail.slice(0, 500)}`);
            this.post({ type: "notice", text: parsed.note, level: "error" });
            return;
        }
        if (parsed.message.type === "ready") {
            for (const message of this.session.snapshot())
                this.post(message);
            this.readyEmitter.fire();
            return;
        }
        this.session.handle(parsed.message).catch((error: unknown) => {
            const text = error instanceof Error ? error.message : String(error);
            this.log.error(`chat view: ${parsed.message.type} failed: ${text}`);
            this.post({ type: "notice", text: `That did not work: ${text}`, level: "error" });
        });
    }

    private post(message: HostMessage): void {
        // a webview that is being disposed may refuse; the session's state is what counts
        this.view?.webview.postMessage(message).then(undefined, () => undefined);
    }

    dispose(): void {
        this.viewSubscriptions?.dispose();
        this.view = undefined;
        this.session.dispose();
        this.readyEmitter.dispose();
    }
}
