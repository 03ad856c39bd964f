import * as vscode from "vscode";
import * as z from "zod/mini";
import type { TokenView } from "../engine/protocol/engineProtocol.js";
import type { PreviewMessage } from "../../webview/preview/protocol.js";
import { renderPreviewHtml } from "../chat/html.js";
import { loadWebviewPage } from "../ui/webviewPage.js";

const readySchema = z.object({ type: z.literal("ready") });

/**
 * A webview beside the editor that shows the current inline suggestion with each token coloured by its
 * difficulty: VS Code cannot style ghost text per token. It follows the suggestions while it is open.
 */
export class CompletionPreviewPanel implements vscode.Disposable {
    private panel: vscode.WebviewPanel | undefined;
    private latest: PreviewMessage = { type: "suggestion", suggestion: undefined, fileName: "", line: 0 };

    constructor(
        private readonly extensionUri: vscode.Uri,
        private readonly log: vscode.LogOutputChannel,
    ) {}

    /** Opens the preview beside the active editor, or brings it forward; the editor keeps the focus. */
    show(): void {
        if (this.panel !== undefined) {
            this.panel.reveal(vscode.ViewColumn.Beside, true);
            return;
        }
        const panel = vscode.window.createWebviewPanel(
            "tah.completionPreview",
            "TaH: Completion Preview",
            { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        );
        loadWebviewPage(panel.webview, this.extensionUri, "preview", renderPreviewHtml);
        const messages = panel.webview.onDidReceiveMessage((raw: unknown) => {
            // the page sends "ready" when its script runs (again, after it was hidden): it then gets the latest state
            if (readySchema.safeParse(raw).success)
                this.post();
            else
                this.log.warn("completion preview: ignored an invalid message");
        });
        panel.onDidDispose(() => {
            messages.dispose();
            if (this.panel === panel)
                this.panel = undefined;
        });
        this.panel = panel;
    }

    /** The suggestion now shown as ghost text (undefined: none), and where; shown if the preview is open. */
    update(suggestion: { text: string; tokens: TokenView[] } | undefined, context: { fileName: string; line: number }): void {
        this.latest = {
            type: "suggestion",
            suggestion: suggestion === undefined ? undefined : { text: suggestion.text, tokens: suggestion.tokens },
            fileName: vscode.workspace.asRelativePath(context.fileName),
            line: context.line + 1,
        };
        this.post();
    }

    private post(): void {
        this.panel?.webview.postMessage(this.latest).then(undefined, () => undefined);
    }

    dispose(): void {
        this.panel?.dispose();
        this.panel = undefined;
    }
}
