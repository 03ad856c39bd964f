// The chat's logic on the extension host: the conversation, requests to the engine (streamed, stoppable),
// attachments from the active editor, and code copied or inserted from answers. The webview only shows it.
import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import type { ChatParams, ChatResult, TokenView } from "../engine/protocol/engineProtocol.js";
import type { EngineState } from "../engineHost/EngineController.js";
import { chatSettings, engineSettings } from "../settings/vscodeSettings.js";
import { commandIds } from "../ui/commandIds.js";
import type { Attachment, ChatHistory, StoredMessage } from "./ChatHistory.js";
import { maxPromptChars } from "./chatLimits.js";
import { engineMessages } from "./chatRequest.js";
import { codeTokens } from "./codeBlocks.js";
import { attachmentLabel, readAttachment } from "./editorContext.js";
import { describeError, describeState } from "./engineText.js";
import type { AnswerStats, HostMessage, MessageEnd, MessageView, WebviewMessage } from "./protocol.js";

/** What the chat needs of the engine; EngineHost has exactly these members, a test may pass a fake. */
export interface ChatEngine {
    readonly state: EngineState;
    readonly onDidChangeState: vscode.Event<EngineState>;
    chat(params: Omit<ChatParams, "stream">, options: { signal: AbortSignal; onToken: (token: TokenView) => void }): Promise<ChatResult>;
}

/** Where inserted code's tokens go, so the hover can show their difficulty (DifficultyStore). */
export interface WrittenTokens {
    addWritten(uri: string, offset: number, views: readonly TokenView[]): void;
}

interface Request {
    readonly messageId: string;
    readonly controller: AbortController;
    readonly done: Promise<void>;
}

/** Streamed tokens go to the webview in batches: one message per token would flood it on a fast model. */
const tokenBatchMs = 40;

/** The editor, unless it is the Output panel: a text editor too, but neither context nor a place for code. */
function codeEditor(editor: vscode.TextEditor | undefined): vscode.TextEditor | undefined {
    return editor?.document.uri.scheme === "output" ? undefined : editor;
}

function statsOf(result: ChatResult): AnswerStats {
    const { generatedTokens, iteratedTokens, tokensPerSecond, stopReason, droppedMessages, promptTokens } = result;
    return { generatedTokens, iteratedTokens, tokensPerSecond, stopReason, droppedMessages, promptTokens };
}

export class ChatSession implements vscode.Disposable {
    private request: Request | undefined;
    private unsentTokens: TokenView[] = [];
    private batchTimer: NodeJS.Timeout | undefined;
    private editorTimer: NodeJS.Timeout | undefined;
    /** The last text editor that had focus: clicking in the chat view may leave no active editor. */
    private lastEditor = codeEditor(vscode.window.activeTextEditor);
    private readonly disposables: vscode.Disposable[] = [];

    constructor(
        private readonly engine: ChatEngine,
        private readonly written: WrittenTokens,
        private readonly history: ChatHistory,
        /** Sends to the webview, if one is showing. */
        private readonly post: (message: HostMessage) => void,
        private readonly log: vscode.LogOutputChannel,
    ) {
        this.disposables.push(
            engine.onDidChangeState(() => this.post(this.stateMessage())),
            vscode.window.onDidChangeActiveTextEditor((editor) => {
                this.lastEditor = codeEditor(editor) ?? this.lastEditor;
                this.editorChanged();
            }),
            vscode.window.onDidChangeTextEditorSelection(() => this.editorChanged()),
            vscode.window.onDidChangeVisibleTextEditors(() => this.editorChanged()),
        );
    }

    /** Everything a webview that just loaded needs to show the chat as it is. */
    snapshot(): HostMessage[] {
        // tokens not sent yet are part of the history sent now
        this.unsentTokens = [];
        return [
            this.stateMessage(),
            this.editorMessage(),
            { type: "history", messages: this.history.messages.map((message) => this.view(message)), busy: this.request !== undefined },
        ];
    }

    /** Acts on a validated message from the webview; resolves when done (an answer: when it has ended). */
    async handle(message: WebviewMessage): Promise<void> {
        switch (message.type) {
            case "ready":
                return;
            case "send":
                return this.send(message.text, message.attach);
            case "stop":
                this.request?.controller.abort();
                return;
            case "newChat":
                return this.newChat();
            case "copy":
                await vscode.env.clipboard.writeText(message.code);
                return;
            case "insert":
                return this.insert(message.messageId, message.code, message.line);
            case "pickModel":
                await vscode.commands.executeCommand(commandIds.selectModel);
                return;
        }
    }

    private notice(text: string, level: "info" | "error" = "info"): void {
        this.post({ type: "notice", text, level });
    }

    private stateMessage(): HostMessage {
        return { type: "state", ...describeState(this.engine.state, engineSettings() !== undefined) };
    }

    /** The active editor, or while the chat has the focus, the last one if it is still shown. */
    private targetEditor(): vscode.TextEditor | undefined {
        const last = this.lastEditor;
        return codeEditor(vscode.window.activeTextEditor) ?? (last !== undefined && vscode.window.visibleTextEditors.includes(last) ? last : undefined);
    }

    private editorMessage(): HostMessage {
        const editor = this.targetEditor();
        return { type: "editor", attachment: editor === undefined ? undefined : attachmentLabel(editor) };
    }

    /** Selection changes come with every keystroke: the label follows them a little later. */
    private editorChanged(): void {
        clearTimeout(this.editorTimer);
        this.editorTimer = setTimeout(() => this.post(this.editorMessage()), 150);
    }

    private view(message: StoredMessage): MessageView {
        const tokens = this.history.tokensOf(message.id);
        return {
            id: message.id,
            role: message.role,
            text: message.text,
            ...(message.attachment === undefined ? {} : { attachment: message.attachment.label }),
            ...(tokens === undefined ? {} : { tokens }),
            ...(message.stats === undefined ? {} : { stats: message.stats }),
            ...(message.error === undefined ? {} : { error: message.error }),
            ...(message.stopped === true ? { stopped: true } : {}),
            ...(this.request?.messageId === message.id ? { pending: true } : {}),
        };
    }

    private async send(text: string, attach: boolean): Promise<void> {
        if (this.request !== undefined) {
            this.notice("An answer is still being written: wait for it, or stop it.");
            return;
        }
        let attachment: Attachment | undefined;
        if (attach) {
            const editor = this.targetEditor();
            if (editor === undefined) {
                this.notice("There is no editor to attach: open a file, or turn attaching off.", "error");
                return;
            }
            const read = readAttachment(editor);
            if ("error" in read) {
                this.notice(read.error, "error");
                return;
            }
            attachment = read;
        }
        const question: StoredMessage = { id: randomUUID(), role: "user", text, ...(attachment === undefined ? {} : { attachment }) };
        this.history.add(question);
        const settings = chatSettings();
        const params: Omit<ChatParams, "stream"> = {
            messages: engineMessages(this.history.messages, settings.systemPrompt, maxPromptChars),
            maxTokens: settings.maxTokens,
            enableThinking: settings.enableThinking,
        };
        const answer: StoredMessage = { id: randomUUID(), role: "assistant", text: "" };
        this.history.add(answer);
        const controller = new AbortController();
        let finished = (): void => undefined;
        this.request = { messageId: answer.id, controller, done: new Promise((resolve) => { finished = resolve; }) };
        this.post({ type: "append", message: this.view(question) });
        this.post({ type: "append", message: this.view(answer) });
        this.post({ type: "busy", busy: true });
        this.persist();

        let end: MessageEnd;
        try {
            const result = await this.engine.chat(params, { signal: controller.signal, onToken: (token) => this.received(answer.id, token) });
            end = { stats: statsOf(result) };
        } catch (error) {
            if (controller.signal.aborted) {
                end = { stopped: true };
            } else {
                end = { error: describeError(error) };
                this.log.warn(`chat: the answer failed: ${error instanceof Error ? error.message : String(error)}`);
            }
        }
        this.flushTokens(answer.id);
        Object.assign(answer, end);
        this.request = undefined;
        this.post({ type: "end", messageId: answer.id, end });
        const forgotten = this.history.trimTokens();
        if (forgotten.length > 0)
            this.post({ type: "forgetTokens", messageIds: forgotten });
        this.post({ type: "busy", busy: false });
        this.persist();
        finished();
    }

    /** Writes the conversation to workspaceState; a failure there must not stop the chat. */
    private persist(): void {
        this.history.save().catch((error: unknown) => this.log.error(`chat: saving the conversation failed: ${error instanceof Error ? error.message : String(error)}`));
    }

    private received(messageId: string, token: TokenView): void {
        this.history.appendTokens(messageId, [token]);
        this.unsentTokens.push(token);
        this.batchTimer ??= setTimeout(() => this.flushTokens(messageId), tokenBatchMs);
    }

    private flushTokens(messageId: string): void {
        clearTimeout(this.batchTimer);
        this.batchTimer = undefined;
        if (this.unsentTokens.length === 0)
            return;
        this.post({ type: "tokens", messageId, tokens: this.unsentTokens });
        this.unsentTokens = [];
    }

    private async newChat(): Promise<void> {
        const request = this.request;
        if (request !== undefined) {
            request.controller.abort();
            await request.done;
        }
        this.history.clear();
        this.persist();
        this.post({ type: "history", messages: [], busy: false });
    }

    /**
     * Inserts a code block of an answer at the cursor of the editor (replacing its selection), and records the
     * tokens that wrote it, so the hover shows their difficulty there.
     */
    private async insert(messageId: string, code: string, line: number): Promise<void> {
        const editor = this.targetEditor();
        if (editor === undefined) {
            this.notice("There is no editor to insert into: open a file and place the cursor where the code should go.", "error");
            return;
        }
        const message = this.history.get(messageId);
        const views = message === undefined ? undefined : this.history.tokensOf(messageId);
        const tokens = message === undefined || views === undefined ? undefined : codeTokens(message.text, views, code, line);
        const { document, selection } = editor;
        const offset = document.offsetAt(selection.start);
        const inserted = await editor.edit((builder) => builder.replace(selection, code));
        if (!inserted) {
            this.notice(`The code could not be inserted into ${vscode.workspace.asRelativePath(document.uri)}.`, "error");
            return;
        }
        if (tokens !== undefined && tokens.length > 0)
            this.written.addWritten(document.uri.toString(), offset, tokens);
        this.notice(`Inserted into ${vscode.workspace.asRelativePath(document.uri)}${tokens === undefined ? "" : "; hover over it to see the difficulty of its tokens"}.`);
    }

    dispose(): void {
        this.request?.controller.abort();
        clearTimeout(this.batchTimer);
        clearTimeout(this.editorTimer);
        for (const disposable of this.disposables)
            disposable.dispose();
    }
}
