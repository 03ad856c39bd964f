// One message of the conversation in the page. A question is plain text; an answer is its reasoning (collapsed),
// its Markdown (or its tokens, per the Tokens switch), how it ended, and its statistics.
import type { AnswerStats, ChatErrorView, MessageEnd, MessageView } from "../../src/chat/protocol.js";
import { splitThinking } from "../../src/chat/thinking.js";
import { sliceTokens } from "../../src/chat/tokenSlices.js";
import type { TokenView } from "../../src/engine/protocol/engineProtocol.js";
import { type CheckboxElement, createButton, createCheckbox } from "../shared/components.js";
import { renderTokenSpans } from "../shared/tokenSpans.js";
import { statsLine } from "./answerStats.js";
import { decorateCodeBlocks } from "./codeBlockActions.js";
import type { MarkdownRenderer } from "./markdown.js";

export interface MessageActions {
    readonly renderMarkdown: MarkdownRenderer;
    copy(code: string): void;
    insert(messageId: string, code: string, line: number): void;
    pickModel(): void;
}

function part<K extends keyof HTMLElementTagNameMap>(document: Document, tag: K, className: string): HTMLElementTagNameMap[K] {
    const element = document.createElement(tag);
    element.className = className;
    return element;
}

export class ChatMessageView {
    readonly root: HTMLElement;
    private text: string;
    private tokens: TokenView[] | undefined;
    private stats: AnswerStats | undefined;
    private error: ChatErrorView | undefined;
    private stopped: boolean;
    private pending: boolean;
    private showTokens = false;
    private readonly thinking: HTMLDetailsElement;
    private readonly thinkingSummary: HTMLElement;
    private readonly thinkingText: HTMLElement;
    private readonly answer: HTMLElement;
    private readonly errorBox: HTMLElement;
    private readonly tokenSwitch: CheckboxElement;
    private readonly statsText: HTMLElement;

    constructor(private readonly document: Document, readonly view: MessageView, private readonly actions: MessageActions) {
        this.text = view.text;
        this.tokens = view.tokens === undefined ? undefined : [...view.tokens];
        this.stats = view.stats;
        this.error = view.error;
        this.stopped = view.stopped === true;
        this.pending = view.pending === true;
        this.root = part(document, "article", `message ${view.role}`);
        this.root.dataset.id = view.id;
        this.thinking = part(document, "details", "thinking");
        this.thinkingSummary = part(document, "summary", "");
        this.thinkingText = part(document, "div", "thinking-text");
        this.thinking.append(this.thinkingSummary, this.thinkingText);
        this.answer = part(document, "div", "answer");
        this.errorBox = part(document, "div", "error");
        this.tokenSwitch = createCheckbox(document, "Tokens", {
            className: "token-switch",
            title: "Show the answer as tokens: colour = P(hard), underline = second pass; hover or focus a hard token for its candidates"
        });
        this.tokenSwitch.addEventListener("change", () => this.setShowTokens(this.tokenSwitch.checked));
        this.statsText = part(document, "span", "stats");
        const footer = part(document, "div", "message-footer");
        footer.append(this.tokenSwitch, this.statsText);
        if (view.role === "user") {
            const text = part(document, "div", "user-text");
            text.textContent = view.text;
            if (view.attachment !== undefined) {
                const attachment = part(document, "div", "attachment");
                attachment.textContent = `Attached: ${view.attachment}`;
                this.root.append(attachment);
            }
            this.root.append(text);
        } else {
            this.root.append(this.thinking, this.answer, this.errorBox, footer);
            this.update();
        }
    }

    get id(): string {
        return this.view.id;
    }

    appendTokens(tokens: readonly TokenView[]): void {
        for (const token of tokens)
            this.text += token.text;
        this.tokens?.push(...tokens);
    }

    end(end: MessageEnd): void {
        this.pending = false;
        this.stats = end.stats;
        this.error = end.error;
        this.stopped = end.stopped === true;
    }

    /** The host no longer keeps this answer's tokens: the switch goes. */
    forgetTokens(): void {
        this.tokens = undefined;
        this.showTokens = false;
    }

    setShowTokens(show: boolean): void {
        this.showTokens = show;
        this.update();
    }

    /** Renders the answer's current state (called once per frame while it streams). */
    update(): void {
        if (this.view.role !== "assistant")
            return;
        const split = splitThinking(this.text);
        this.thinking.hidden = split.thinking === undefined || (split.thinkingDone && split.thinking === "");
        this.thinkingSummary.textContent = split.thinkingDone ? "Thinking" : "Thinking…";
        this.thinkingText.textContent = split.thinking ?? "";

        const asTokens = this.showTokens && this.tokens !== undefined;
        this.answer.classList.toggle("as-tokens", asTokens);
        this.answer.classList.toggle("typing", this.pending && split.answer === "");
        if (asTokens) {
            this.answer.replaceChildren(renderTokenSpans(this.document, sliceTokens(this.tokens ?? [], split.answerStart, this.text.length)));
        } else {
            this.answer.replaceChildren(this.actions.renderMarkdown(split.answer));
            decorateCodeBlocks(this.answer, {
                copy: (code) => this.actions.copy(code),
                insert: (code, line) => this.actions.insert(this.view.id, code, line),
            });
        }

        this.errorBox.hidden = this.error === undefined;
        this.errorBox.replaceChildren();
        if (this.error !== undefined) {
            const what = part(this.document, "strong", "");
            what.textContent = this.error.text;
            const hint = part(this.document, "div", "hint");
            hint.textContent = this.error.hint;
            this.errorBox.append(what, hint);
            if (this.error.action === "pickModel") {
                const pick = createButton(this.document, "Pick a model…");
                pick.addEventListener("click", () => this.actions.pickModel());
                this.errorBox.append(pick);
            }
        }

        this.tokenSwitch.hidden = this.tokens === undefined || this.tokens.length === 0;
        const notes: string[] = [];
        if (this.stats !== undefined)
            notes.push(statsLine(this.stats));
        if (this.stopped)
            notes.push("Stopped");
        if (this.tokens?.some((token) => token.difficultyIsProxy) === true)
            notes.push("difficulty is a proxy (plain model)");
        this.statsText.textContent = notes.join(" · ");
    }
}
