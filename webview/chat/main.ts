// The chat view's browser script: shows the conversation the extension host keeps, streams answers into it, and
// sends the user's actions back (the host validates each message).
import { maxUserTextChars } from "../../src/chat/chatLimits.js";
import type { HostMessage, MessageView, WebviewMessage } from "../../src/chat/protocol.js";
import { registerComponents } from "../shared/components.js";
import { installTokenTooltip } from "../shared/tokenTooltip.js";
import { checkedTokenViews } from "../shared/tokenViews.js";
import "../shared/tokens.css";
import { composerKeyAction, createChatControls } from "./chatControls.js";
import { createMarkdownRenderer } from "./markdown.js";
import { ChatMessageView, type MessageActions } from "./ChatMessageView.js";
import "./style.css";

interface VsCodeApi {
    postMessage(message: WebviewMessage): void;
    getState(): unknown;
    setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** What the page keeps while it is hidden (VS Code drops the page, not this state). */
interface PageState {
    draft: string;
    attach: boolean;
}


const vscode = acquireVsCodeApi();

function byId<T extends HTMLElement>(id: string): T {
    const element = document.getElementById(id);
    if (element === null)
        throw new Error(`the page has no #${id}`);
    return element as T;
}

const stateLine = byId("engine-state");
const list = byId("messages");
const empty = byId("empty");
const notice = byId("notice");
const { newChat, pickModel: pickModelButton, attach, prompt, send: sendButton, stop: stopButton, busy: busyRing } = createChatControls(document);

const saved = vscode.getState() as Partial<PageState> | undefined;
void registerComponents().then(() => {
    prompt.value = typeof saved?.draft === "string" ? saved.draft : "";
    attach.checked = saved?.attach === true;
});

function saveState(): void {
    vscode.setState({ draft: prompt.value, attach: attach.checked } satisfies PageState);
}

const actions: MessageActions = {
    renderMarkdown: createMarkdownRenderer(window),
    copy: (code) => vscode.postMessage({ type: "copy", code }),
    insert: (messageId, code, line) => vscode.postMessage({ type: "insert", messageId, code, line }),
    pickModel: () => vscode.postMessage({ type: "pickModel" }),
};

const messages = new Map<string, ChatMessageView>();
/** Answers that changed since the last frame: rendered once per frame, however many tokens arrived. */
const dirty = new Set<ChatMessageView>();
let frame: number | undefined;
let busy = false;
let noticeTimer: number | undefined;

function nearBottom(): boolean {
    const scroller = document.scrollingElement ?? document.documentElement;
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
}

function scrollToBottom(): void {
    const scroller = document.scrollingElement ?? document.documentElement;
    scroller.scrollTop = scroller.scrollHeight;
}

function render(): void {
    frame = undefined;
    const follow = nearBottom();
    for (const message of dirty)
        message.update();
    dirty.clear();
    if (follow)
        scrollToBottom();
}

function changed(message: ChatMessageView): void {
    dirty.add(message);
    frame ??= requestAnimationFrame(render);
}

function add(view: MessageView): void {
    const message = new ChatMessageView(document, view.tokens === undefined ? view : { ...view, tokens: checkedTokenViews(view.tokens) }, actions);
    messages.set(view.id, message);
    list.append(message.root);
    empty.hidden = true;
}

function setBusy(value: boolean): void {
    busy = value;
    sendButton.toggleAttribute("disabled", value);
    stopButton.hidden = !value;
    busyRing.hidden = !value;
}

function showNotice(text: string, level: "info" | "error"): void {
    window.clearTimeout(noticeTimer);
    notice.textContent = text;
    notice.dataset.level = level;
    notice.hidden = false;
    if (level === "info")
        noticeTimer = window.setTimeout(() => { notice.hidden = true; }, 6000);
}

function handle(message: HostMessage): void {
    switch (message.type) {
        case "state":
            stateLine.textContent = message.text;
            stateLine.dataset.connected = String(message.connected);
            pickModelButton.hidden = !message.canPickModel;
            return;
        case "history":
            messages.clear();
            dirty.clear();
            list.replaceChildren();
            empty.hidden = message.messages.length > 0;
            for (const view of message.messages)
                add(view);
            setBusy(message.busy);
            scrollToBottom();
            return;
        case "append":
            add(message.message);
            scrollToBottom();
            return;
        case "tokens": {
            const target = messages.get(message.messageId);
            if (target !== undefined) {
                target.appendTokens(checkedTokenViews(message.tokens));
                changed(target);
            }
            return;
        }
        case "end": {
            const target = messages.get(message.messageId);
            if (target !== undefined) {
                target.end(message.end);
                changed(target);
            }
            return;
        }
        case "forgetTokens":
            for (const id of message.messageIds) {
                const target = messages.get(id);
                if (target !== undefined) {
                    target.forgetTokens();
                    changed(target);
                }
            }
            return;
        case "busy":
            setBusy(message.busy);
            return;
        case "editor":
            attach.textContent = message.attachment === undefined ? "Attach (no editor open)" : `Attach ${message.attachment}`;
            attach.toggleAttribute("disabled", message.attachment === undefined);
            return;
        case "notice":
            showNotice(message.text, message.level);
            return;
    }
}

function send(): void {
    const text = prompt.value.trim();
    if (text === "" || busy)
        return;
    if (text.length > maxUserTextChars) {
        showNotice(`The message has ${text.length.toLocaleString("en")} characters; the limit is ${maxUserTextChars.toLocaleString("en")}. Shorten it, or attach the file or selection instead.`, "error");
        return;
    }
    notice.hidden = true;
    vscode.postMessage({ type: "send", text, attach: attach.checked && !attach.hasAttribute("disabled") });
    prompt.value = "";
    saveState();
}

sendButton.addEventListener("click", send);
stopButton.addEventListener("click", () => vscode.postMessage({ type: "stop" }));
newChat.addEventListener("click", () => vscode.postMessage({ type: "newChat" }));
pickModelButton.addEventListener("click", () => vscode.postMessage({ type: "pickModel" }));
prompt.addEventListener("keydown", (event) => {
    const action = composerKeyAction(event, busy);
    if (action === undefined)
        return;
    event.preventDefault();
    if (action === "send")
        send();
    else
        vscode.postMessage({ type: "stop" });
});
prompt.addEventListener("input", saveState);
attach.addEventListener("change", saveState);
installTokenTooltip(document);

window.addEventListener("message", (event: MessageEvent<unknown>) => {
    // only the extension host posts to this page; the check guards against a malformed message, not an attacker
    if (typeof event.data === "object" && event.data !== null && typeof (event.data as { type?: unknown }).type === "string")
        handle(event.data as HostMessage);
});
vscode.postMessage({ type: "ready" });
