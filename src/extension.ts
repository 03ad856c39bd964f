// Wiring only: creates the extension's parts, connects them and hands every disposable to VS Code (so there is no
// deactivate: VS Code disposes context.subscriptions on shutdown).
import * as vscode from "vscode";
import { ChatViewProvider } from "./chat/chatViewProvider.js";
import { chatViewId, commandIds } from "./ui/commandIds.js";
import { showMenu } from "./ui/menu.js";
import { StatusBar, stateFromSettings } from "./ui/statusBar.js";

/** What `activate` returns: a small read-only surface, used by the integration tests. */
export interface TahExtensionApi {
    /** The status-bar text, e.g. "$(sparkle) TaH: no model". */
    readonly statusText: () => string;
    /** Resolves when a chat webview has loaded its script (under the CSP) and said "ready". */
    readonly chatViewReady: Promise<void>;
}

export function activate(context: vscode.ExtensionContext): TahExtensionApi {
    const log = vscode.window.createOutputChannel("TaH Copilot", { log: true });
    const status = new StatusBar();
    const chat = new ChatViewProvider(context.extensionUri, log);
    const chatViewReady = new Promise<void>((resolve) => {
        const once = chat.onDidBecomeReady(() => {
            once.dispose();
            resolve();
        });
        context.subscriptions.push(once);
    });

    status.set(stateFromSettings());
    context.subscriptions.push(
        log,
        status,
        chat,
        vscode.window.registerWebviewViewProvider(chatViewId, chat),
        vscode.workspace.onDidChangeConfiguration((event) => {
            if (event.affectsConfiguration("tah.modelPath")) status.set(stateFromSettings());
        }),
        vscode.commands.registerCommand(commandIds.showMenu, () => showMenu(status.state)),
        // `<viewId>.focus` is the command VS Code generates for every view.
        vscode.commands.registerCommand(commandIds.openChat, () => vscode.commands.executeCommand(`${chatViewId}.focus`)),
        vscode.commands.registerCommand(commandIds.showLogs, () => { log.show(); }),
    );
    log.info(`activated (VS Code ${vscode.version}, ${vscode.env.uiKind === vscode.UIKind.Web ? "web" : "desktop"} UI, Node ${process.version})`);
    return { statusText: () => status.text, chatViewReady };
}
