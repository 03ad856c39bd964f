// The completion preview's browser script: shows the current inline suggestion as tokens coloured by difficulty.
import { installTokenTooltip } from "../shared/tokenTooltip.js";
import "../shared/tokens.css";
import { renderPreview } from "./renderPreview.js";
import { checkedPreviewMessage } from "./protocol.js";
import "./style.css";

interface VsCodeApi {
    postMessage(message: { type: "ready" }): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
installTokenTooltip(document);

window.addEventListener("message", (event: MessageEvent<unknown>) => {
    const message = checkedPreviewMessage(event.data);
    if (message !== undefined)
        renderPreview(document, message);
});
vscode.postMessage({ type: "ready" });
