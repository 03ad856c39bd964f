// The chat page's controls (built from the shared components into the page's static frame) and its keyboard use.
import {
    type CheckboxElement, createButton, createCheckbox, createProgressRing, createTextArea, type TextAreaElement
} from "../shared/components.js";

export interface ChatControls {
    readonly newChat: HTMLElement;
    readonly pickModel: HTMLElement;
    readonly attach: CheckboxElement;
    readonly prompt: TextAreaElement;
    readonly send: HTMLElement;
    readonly stop: HTMLElement;
    readonly busy: HTMLElement;
}

function part(document: Document, selector: string): Element {
    const element = document.querySelector(selector);
    if (element === null)
        throw new Error(`the page has no ${selector}`);
    return element;
}

/** Adds the controls to the page's header, state line and composer. */
export function createChatControls(document: Document): ChatControls {
    const newChat = createButton(document, "New chat", { id: "new-chat", title: "Start a new conversation", secondary: true });
    const pickModel = createButton(document, "Pick a model…", { id: "pick-model", secondary: true });
    pickModel.hidden = true;
    const attach = createCheckbox(document, "Attach", { id: "attach", title: "Include the selection, or the whole file when nothing is selected" });
    const prompt = createTextArea(document, "Message to TaH", {
        id: "prompt", className: "prompt", rows: 3, placeholder: "Ask a question (Enter sends, Shift+Enter for a new line, Escape stops)"
    });
    const send = createButton(document, "Send", { id: "send" });
    const stop = createButton(document, "Stop", { id: "stop", title: "Stop the answer (Escape)", secondary: true });
    stop.hidden = true;
    const busy = createProgressRing(document, "Answering", { id: "busy", className: "busy" });
    busy.hidden = true;

    part(document, ".header").append(newChat);
    part(document, ".state-line").append(pickModel);
    const actions = document.createElement("div");
    actions.className = "actions";
    actions.append(send, stop, busy);
    part(document, "#notice").before(attach, prompt, actions);
    return { newChat, pickModel, attach, prompt, send, stop, busy };
}

/** What a key in the message field does: Enter sends, Shift+Enter is a new line, Escape stops an answer. */
export function composerKeyAction(event: Pick<KeyboardEvent, "key" | "shiftKey" | "isComposing">, busy: boolean): "send" | "stop" | undefined {
    if (event.isComposing)
        return undefined;
    if (event.key === "Enter" && !event.shiftKey)
        return "send";
    if (event.key === "Escape" && busy)
        return "stop";
    return undefined;
}
