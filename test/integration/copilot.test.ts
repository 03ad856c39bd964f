// The copilot with a real (tiny, generated) model, inside the extension host: the engine process loads it, ghost
// text appears and commits, the hover shows difficulty, the heatmap decorates, and a killed engine comes back.
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { TahExtensionApi } from "../../src/extension.js";
import { commandIds } from "../../src/ui/commandIds.js";
import { fixturePrompt } from "../e2e/fixtureModel.js";

const extensionId = "tah-copilot.tah-copilot";

async function api(): Promise<TahExtensionApi> {
    const extension = vscode.extensions.getExtension<TahExtensionApi>(extensionId);
    assert.ok(extension);
    return extension.activate();
}

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe();
        if (value !== undefined && value !== false)
            return value;
        if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

async function configure(values: Record<string, unknown>): Promise<void> {
    const config = vscode.workspace.getConfiguration("tah");
    for (const [key, value] of Object.entries(values))
        await config.update(key, value, vscode.ConfigurationTarget.Global);
}

/** Counts the loads the engine starts (each enters the loading state once, whatever its progress events). */
function countLoads(extension: TahExtensionApi): vscode.Disposable & { loads: () => number } {
    let loads = 0;
    let previous = extension.engine.state.kind;
    const subscription = extension.engine.onDidChangeState((state) => {
        if (state.kind === "loading" && previous !== "loading")
            loads++;
        previous = state.kind;
    });
    return {
        loads: () => loads,
        dispose: () => {
            subscription.dispose();
        }
    };
}

suite("copilot with a model", function () {
    this.timeout(180_000);
    let accepted: { document: vscode.TextDocument; start: number; text: string } | undefined;

    suiteSetup(async () => {
        const model = process.env.TAH_TEST_MODEL;
        assert.ok(model, "the harness passes TAH_TEST_MODEL");
        await configure({
            "gpu": "cpu", "threads": 1, "contextSize": 1024,
            "inlineCompletion.adaptiveDebounce": false, "inlineCompletion.debounceMs": 0, "inlineCompletion.maxMs": 5000,
            "inlineCompletion.maxTokens": 8, "inlineCompletion.hardTokenPolicy": "off", "modelPath": model
        });
        const extension = await api();
        await waitFor(() => extension.engine.state.kind === "ready", "the model to load");
    });

    suiteTeardown(async () => {
        await configure({ "modelPath": undefined, "gpu": undefined, "threads": undefined, "contextSize": undefined });
        await configure({
            "inlineCompletion.adaptiveDebounce": undefined, "inlineCompletion.debounceMs": undefined,
            "inlineCompletion.maxMs": undefined, "inlineCompletion.maxTokens": undefined, "inlineCompletion.hardTokenPolicy": undefined
        });
    });

    test("the status bar shows the loaded model", async () => {
        const extension = await api();
        await waitFor(() => extension.statusText().includes("tiny-fixture"), "the model name in the status bar");
    });

    test("ghost text appears and committing it inserts the suggestion", async () => {
        const original = fixturePrompt.prefix + fixturePrompt.suffix;
        const document = await vscode.workspace.openTextDocument({ language: "javascript", content: original });
        const editor = await vscode.window.showTextDocument(document);
        const cursor = document.positionAt(fixturePrompt.prefix.length);
        editor.selection = new vscode.Selection(cursor, cursor);
        await waitFor(async () => {
            await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
            await new Promise((resolve) => setTimeout(resolve, 1500));
            await vscode.commands.executeCommand("editor.action.inlineSuggest.commit");
            return document.getText() !== original ? true : undefined;
        }, "a suggestion to commit", 90_000);
        const text = document.getText();
        assert.ok(text.startsWith(fixturePrompt.prefix) && text.endsWith(fixturePrompt.suffix), "the suggestion went in at the cursor");
        const inserted = text.slice(fixturePrompt.prefix.length, text.length - fixturePrompt.suffix.length);
        assert.match(inserted, /[A-Za-z0-9]/);
        assert.doesNotMatch(inserted, /<\||<\/?think>/, "no markup in ghost text");
        accepted = { document, start: fixturePrompt.prefix.length, text: inserted };
    });

    test("the hover over accepted text shows its difficulty", async () => {
        assert.ok(accepted, "a suggestion was accepted");
        const extension = await api();
        const uri = accepted.document.uri.toString();
        await waitFor(() => extension.difficulty.tokens(uri, "written").length > 0, "the accepted tokens to be tracked", 10_000);
        const position = accepted.document.positionAt(accepted.start + 1);
        const hovers = await vscode.commands.executeCommand<vscode.Hover[]>("vscode.executeHoverProvider", accepted.document.uri, position);
        const text = hovers.flatMap((hover) => hover.contents.map((content) => typeof content === "string" ? content : content.value)).join("\n");
        assert.match(text, /P\(hard\) from the TaH decider/);
        assert.match(text, /Written by the copilot/);
    });

    test("the heatmap command decorates a file", async () => {
        const extension = await api();
        const document = await vscode.workspace.openTextDocument({ language: "javascript", content: "function sum(xs) {\n    let total = 0;\n    for (const x of xs) total += x;\n    return total;\n}\n" });
        const editor = await vscode.window.showTextDocument(document);
        await vscode.commands.executeCommand(commandIds.showDifficulty);
        const analysed = extension.difficulty.tokens(document.uri.toString(), "analysis");
        assert.ok(analysed.length > 10, `analysed ${analysed.length} tokens`);
        assert.ok(analysed.every((token) => token.view.difficulty >= 0 && token.view.difficulty <= 1 && !token.view.difficultyIsProxy));
        const painted = extension.heatmap.paint(editor);
        assert.ok(painted.reduce((a, b) => a + b, 0) > 0, `decorated per level: ${painted.join(", ")}`);
        await vscode.commands.executeCommand(commandIds.toggleHeatmap);
        assert.deepEqual(extension.heatmap.paint(editor), [0, 0, 0, 0], "the toggle hides the heatmap");
        await vscode.commands.executeCommand(commandIds.toggleHeatmap);
    });

    test("the engine is killed mid-answer, says so, and the next answer works", async () => {
        const extension = await api();
        const scripted = process.env.TAH_TEST_SCRIPTED_MODEL;
        assert.ok(scripted, "the harness passes TAH_TEST_SCRIPTED_MODEL");
        await configure({ "modelPath": scripted });
        await waitFor(() => extension.engine.state.kind === "ready" && extension.statusText().includes("tiny-scripted"), "the scripted model");
        const pid = extension.engine.pid;
        assert.ok(pid !== undefined);
        let streamed = 0;
        const answer = extension.engine.chat({ messages: [{ role: "user", content: "Go on." }], maxTokens: 900, enableThinking: false }, {
            signal: new AbortController().signal,
            onToken: () => {
                streamed++;
                if (streamed === 5)
                    process.kill(pid, "SIGKILL");
            }
        });
        await assert.rejects(answer, (error: unknown) => {
            assert.equal((error as { code?: string }).code, "crashed", `the error: ${String(error)}`);
            return true;
        });
        assert.ok(streamed >= 5, "the answer was streaming when the engine died");
        await waitFor(() => extension.engine.state.kind === "ready" && extension.engine.pid !== pid, "the engine to come back with the model");
        let again = "";
        const result = await extension.engine.chat({ messages: [{ role: "user", content: "Again." }], maxTokens: 24, enableThinking: false }, {
            signal: new AbortController().signal,
            onToken: (token) => (again += token.text)
        });
        assert.equal(result.generatedTokens, 24);
        assert.match(again, /<svg\/onload=alert\(1\)>/);
        await configure({ "modelPath": process.env.TAH_TEST_MODEL });
        await waitFor(() => extension.engine.state.kind === "ready" && extension.statusText().includes("tiny-fixture"), "the fixture model again");
    });

    test("the engine is killed mid-request, and the next request works", async () => {
        const extension = await api();
        const pid = extension.engine.pid;
        assert.ok(pid !== undefined);
        const text = "const values = [1, 2, 3];\n".repeat(30);
        const inFlight = extension.engine.analyze(text, new AbortController().signal);
        process.kill(pid, "SIGKILL");
        await assert.rejects(inFlight, (error: unknown) => (error as { code?: string }).code === "crashed");
        await waitFor(() => extension.engine.state.kind === "ready" && extension.engine.pid !== pid, "the engine to come back");
        const again = await extension.engine.analyze("let x = 1;\n", new AbortController().signal);
        assert.ok(again.tokens.length > 0);
    });

    test("Restart Engine loads the model once, in a fresh process", async () => {
        const extension = await api();
        await waitFor(() => extension.engine.state.kind === "ready", "the model");
        const pid = extension.engine.pid;
        const watching = countLoads(extension);
        try {
            await vscode.commands.executeCommand(commandIds.restartEngine);
            assert.equal(extension.engine.state.kind, "ready");
            assert.notEqual(extension.engine.pid, pid);
            assert.equal(watching.loads(), 1);
        } finally {
            watching.dispose();
        }
    });

    test("a tah.gpu change loads the model again in a fresh process, once", async () => {
        const extension = await api();
        const pid = extension.engine.pid;
        const watching = countLoads(extension);
        try {
            // the CPU build is the one the harness has; "auto" picks it, in a process of its own
            await configure({ "gpu": "auto" });
            await waitFor(() => extension.engine.state.kind === "ready" && extension.engine.pid !== pid ? true : undefined, "the model in a fresh process");
            assert.equal(watching.loads(), 1);
        } finally {
            watching.dispose();
            await configure({ "gpu": "cpu" });
        }
    });
});
