// The completion preview's browser script: shows the current inline suggestion as tokens coloured by difficulty.
import { installTokenTooltip } from "../shared/tokenTooltip.js";
import "../shared/tokens.css";
import { renderPreview } from "./renderPreview.js";
import type { PreviewMessage } from "./protocol.js";
import "./style.css";

interface VsCodeApi {
    postMessage(message: { type: "ready" }): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
installTokenTooltip(document);

window.addEventListener("message", (event: MessageEvent<unknown>) => {
    const message = event.data as Partial<PreviewMessage> | null;
    if (message?.type !== "suggestion")
        return;
    renderPreview(document, message as PreviewMessage);
});
vscode.postMessage({ type: "ready" });
