// Runs inside the extension host (see test/e2e/extensionTests.ts): the chat's host side against a fake engine, with
// real editors, selections and edits; and the completion preview panel.
import * as assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as vscode from "vscode";
import { ChatHistory } from "../../src/chat/ChatHistory.js";
import { type ChatEngine, ChatSession } from "../../src/chat/ChatSession.js";
import type { HostMessage, MessageEnd } from "../../src/chat/protocol.js";
import { CompletionPreviewPanel } from "../../src/completion/CompletionPreviewPanel.js";
import { DifficultyStore } from "../../src/difficulty/DifficultyStore.js";
import type { ChatParams, ChatResult, TokenView } from "../../src/engine/protocol/engineProtocol.js";
import type { EngineState } from "../../src/engineHost/EngineController.js";

const extensionId = "tah-copilot.tah-copilot";

class MemoryMemento implements vscode.Memento {
    private readonly values = new Map<string, unknown>();
    keys(): readonly string[] {
        return [...this.values.keys()];
    }
    get<T>(key: string): T | undefined;
    get<T>(key: string, defaultValue: T): T;
    get<T>(key: string, defaultValue?: T): T | undefined {
        return (this.values.has(key) ? this.values.get(key) : defaultValue) as T | undefined;
    }
    update(key: string, value: unknown): Promise<void> {
        this.values.set(key, JSON.parse(JSON.stringify(value)));
        return Promise.resolve();
    }
}

function view(text: string, difficulty: number): TokenView {
    return {
        token: text.length, piece: text, text, difficulty, difficultyIsProxy: false, iterated: difficulty > 0.9, changed: false,
        before: [{ token: text.length, piece: text, prob: 1 - difficulty }], after: [],
    };
}

/** An engine that streams a scripted answer, one token every `delayMs`, and stops when aborted. */
class FakeEngine implements ChatEngine {
    private readonly emitter = new vscode.EventEmitter<EngineState>();
    readonly onDidChangeState = this.emitter.event;
    readonly requests: ChatParams[] = [];
    state: EngineState = { kind: "idle" };
    pieces: string[] = [];
    delayMs = 1;
    failWith: Error | undefined;

    async chat(params: ChatParams, options: { signal: AbortSignal; onToken: (token: TokenView) => void }): Promise<ChatResult> {
        this.requests.push(params);
        if (this.failWith !== undefined)
            throw this.failWith;
        let iterated = 0;
        for (const [index, piece] of this.pieces.entries()) {
            await new Promise((resolve) => setTimeout(resolve, this.delayMs));
            if (options.signal.aborted)
                throw Object.assign(new Error("the request was cancelled"), { code: "aborted" });
            const token = view(piece, index % 4 === 0 ? 0.95 : 0.1);
            iterated += token.iterated ? 1 : 0;
            options.onToken(token);
        }
        const text = this.pieces.join("");
        return { text, stopReason: "stopToken", promptTokens: 42, reusedTokens: 0, droppedMessages: 0, generatedTokens: this.pieces.length, iteratedTokens: iterated, tokensPerSecond: 50, stats: { generatedTokens: this.pieces.length, iteratedTokens: iterated, tokensPerSecond: 50 } };
    }

    dispose(): void {
        this.emitter.dispose();
    }
}

interface Harness {
    readonly engine: FakeEngine;
    readonly store: DifficultyStore;
    readonly memento: MemoryMemento;
    readonly posted: HostMessage[];
    readonly session: ChatSession;
    readonly ends: () => MessageEnd[];
}

const log = vscode.window.createOutputChannel("TaH chat tests", { log: true });
const disposables: vscode.Disposable[] = [];

function harness(): Harness {
    const engine = new FakeEngine();
    const store = new DifficultyStore();
    const memento = new MemoryMemento();
    const posted: HostMessage[] = [];
    const session = new ChatSession(engine, store, new ChatHistory(memento), (message) => posted.push(message), log);
    // as the extension wires it: the store follows edits
    disposables.push(session, engine, vscode.workspace.onDidChangeTextDocument((event) => store.applyChanges(event.document.uri.toString(),
        event.contentChanges.map((change) => ({ offset: change.rangeOffset, deletedLength: change.rangeLength, insertedLength: change.text.length })))));
    return {
        engine, store, memento, posted, session,
        ends: () => posted.flatMap((message) => message.type === "end" ? [message.end] : []),
    };
}

let fileCount = 0;

/** A file of its own for each test: untitled documents reuse names, and a new one can get an old one's editor. */
async function editorWith(content: string): Promise<vscode.TextEditor> {
    const file = path.join(os.tmpdir(), `tah-chat-test-${process.pid}-${++fileCount}.ts`);
    fs.writeFileSync(file, content);
    return vscode.window.showTextDocument(await vscode.workspace.openTextDocument(vscode.Uri.file(file)));
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
}

suite("chat", () => {
    teardown(async () => {
        for (const disposable of disposables.splice(0))
            disposable.dispose();
        // edited documents are dirty: revert them, or closing would ask to save
        for (let i = 0; i < 10 && vscode.window.activeTextEditor !== undefined; i++)
            await vscode.commands.executeCommand("workbench.action.revertAndCloseActiveEditor");
    });

    test("an answer streams in with its stats; the selection goes with the question; the conversation is stored", async () => {
        const { engine, posted, memento, session, ends } = harness();
        engine.pieces = ["It", " adds", " two", " numbers", "."];
        const editor = await editorWith("// header\nfunction add(a: number, b: number) {\n    return a + b;\n}\n");
        editor.selection = new vscode.Selection(1, 0, 4, 0);
        await session.handle({ type: "send", text: "What does this do?", attach: true });

        const [request] = engine.requests;
        assert.ok(request);
        assert.equal(request.messages[0]?.role, "system");
        const question = request.messages.at(-1);
        assert.equal(question?.role, "user");
        assert.match(question?.content ?? "", /^\S*tah-chat-test-\d+-\d+\.ts, lines 2–4:\n```typescript\nfunction add\(a: number, b: number\) \{\n {4}return a \+ b;\n\}\n```\n\nWhat does this do\?$/);
        assert.equal(request.maxTokens, 1024);
        assert.equal(request.enableThinking, false);

        const appended = posted.flatMap((message) => message.type === "append" ? [message.message] : []);
        assert.deepEqual(appended.map((message) => [message.role, message.pending === true]), [["user", false], ["assistant", true]]);
        assert.match(appended[0]?.attachment ?? "", /tah-chat-test-\d+-\d+\.ts, lines 2–4$/);
        const streamed = posted.flatMap((message) => message.type === "tokens" ? message.tokens.map((token) => token.text) : []);
        assert.equal(streamed.join(""), "It adds two numbers.");
        assert.deepEqual(ends(), [{ stats: { generatedTokens: 5, iteratedTokens: 2, tokensPerSecond: 50, stopReason: "stopToken", droppedMessages: 0, promptTokens: 42 } }]);
        assert.deepEqual(posted.filter((message) => message.type === "busy"), [{ type: "busy", busy: true }, { type: "busy", busy: false }]);

        const reloaded = new ChatHistory(memento);
        assert.deepEqual(reloaded.messages.map((message) => [message.role, message.text]), [["user", "What does this do?"], ["assistant", "It adds two numbers."]]);
        const snapshot = session.snapshot().find((message) => message.type === "history");
        assert.equal(snapshot?.type === "history" ? snapshot.messages[1]?.tokens?.length : undefined, 5);
    });

    test("Stop aborts the request and keeps the partial answer", async () => {
        const { engine, posted, session, ends } = harness();
        engine.pieces = Array.from({ length: 200 }, (_, index) => `w${index} `);
        engine.delayMs = 10;
        const answering = session.handle({ type: "send", text: "Talk", attach: false });
        await waitFor(() => posted.some((message) => message.type === "tokens"), "the first tokens");
        await session.handle({ type: "send", text: "again", attach: false });
        assert.ok(posted.some((message) => message.type === "notice" && /still being written/.test(message.text)), "one answer at a time");
        await session.handle({ type: "stop" });
        await answering;
        assert.deepEqual(ends(), [{ stopped: true }]);
        const history = session.snapshot().find((message) => message.type === "history");
        const answer = history?.type === "history" ? history.messages[1] : undefined;
        assert.equal(answer?.stopped, true);
        assert.ok(answer !== undefined && answer.text.length > 0 && answer.text.length < 200 * 4, "a partial answer");
    });

    test("engine errors are shown with a hint", async () => {
        const { engine, session, ends } = harness();
        engine.failWith = Object.assign(new Error("no model is selected"), { code: "noModel" });
        await session.handle({ type: "send", text: "hi", attach: false });
        engine.failWith = Object.assign(new Error("the engine process stopped (SIGKILL)"), { code: "crashed" });
        await session.handle({ type: "send", text: "hi again", attach: false });
        const [noModel, crashed] = ends().map((end) => end.error);
        assert.equal(noModel?.action, "pickModel");
        assert.match(crashed?.hint ?? "", /restarted/);
        // the failed first question is not asked again
        assert.deepEqual(engine.requests[1]?.messages.filter((message) => message.role === "user").map((message) => message.content), ["hi again"]);
    });

    test("a code block inserted at the cursor carries the difficulty of the tokens that wrote it", async () => {
        const { engine, store, session } = harness();
        engine.pieces = ["Use", ":\n\n", "```", "ts", "\n", "const", " total", " =", " sum", "(xs", ");\n", "```", "\n"];
        await session.handle({ type: "send", text: "Sum them", attach: false });
        const history = session.snapshot().find((message) => message.type === "history");
        const answerId = history?.type === "history" ? history.messages[1]?.id : undefined;
        assert.ok(answerId);

        const editor = await editorWith("let xs = [1, 2];\n\n");
        editor.selection = new vscode.Selection(1, 0, 1, 0);
        const code = "const total = sum(xs);";
        await session.handle({ type: "insert", messageId: answerId, code, line: 3 });
        const uri = editor.document.uri.toString();
        const offset = editor.document.getText().indexOf(code);
        assert.equal(offset, "let xs = [1, 2];\n".length);
        const tokens = store.tokens(uri, "written");
        assert.deepEqual(tokens.map((token) => [token.start - offset, token.view.text]), [[0, "const"], [5, " total"], [11, " ="], [13, " sum"], [17, "(xs"], [20, ");"]]);
        assert.equal(store.tokenAt(uri, offset + "const total =".length)?.token.view.difficulty, 0.95, "the hard token \" sum\"");

        // the tokens follow later edits, as the hover needs
        await editor.edit((builder) => builder.insert(new vscode.Position(0, 0), "// sums\n"));
        assert.equal(store.tokenAt(uri, offset + "// sums\n".length)?.token.view.text, "const");
    });

    test("New chat stops the answer and clears the conversation", async () => {
        const { engine, posted, memento, session } = harness();
        engine.pieces = Array.from({ length: 100 }, () => "x");
        engine.delayMs = 10;
        const answering = session.handle({ type: "send", text: "go", attach: false });
        await waitFor(() => posted.some((message) => message.type === "tokens"), "the first tokens");
        await session.handle({ type: "newChat" });
        await answering;
        assert.deepEqual(posted.at(-1), { type: "history", messages: [], busy: false });
        assert.deepEqual(new ChatHistory(memento).messages, []);
    });

    test("attaching without an editor says so instead of sending", async () => {
        await vscode.commands.executeCommand("workbench.action.closeAllEditors");
        const { engine, posted, session } = harness();
        await session.handle({ type: "send", text: "hi", attach: true });
        assert.equal(engine.requests.length, 0);
        assert.ok(posted.some((message) => message.type === "notice" && /no editor to attach/.test(message.text)));
    });
});

suite("completion preview", () => {
    test("opens beside the editor, takes suggestions while open, and closes on dispose", async () => {
        const extension = vscode.extensions.getExtension(extensionId);
        assert.ok(extension);
        const preview = new CompletionPreviewPanel(extension.extensionUri, log);
        const tabs = (): vscode.Tab[] => vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) => tab.label === "TaH: Completion Preview");
        try {
            preview.update(undefined, { fileName: "/tmp/a.ts", line: 0 });
            preview.show();
            await waitFor(() => tabs().length === 1, "the preview tab");
            assert.ok(tabs()[0]?.input instanceof vscode.TabInputWebview);
            preview.update({ text: "return 1;", tokens: [view("return", 0.2), view(" 1;", 0.9)] }, { fileName: "/tmp/a.ts", line: 4 });
            preview.show();
            assert.equal(tabs().length, 1, "show() brings the one preview forward");
            // let the workbench finish revealing it: a webview disposed mid-reveal logs an error there
            await new Promise((resolve) => setTimeout(resolve, 500));
        } finally {
            preview.dispose();
        }
        await waitFor(() => tabs().length === 0, "the preview to close");
        preview.update(undefined, { fileName: "/tmp/a.ts", line: 0 });
    });
});
