// Runs inside the extension host against the installed VSIX (see test/e2e/extensionTests.ts).
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { TahExtensionApi } from "../../src/extension.js";
import { chatViewId, commandIds } from "../../src/ui/commandIds.js";
import { menuEntries } from "../../src/ui/menu.js";

const extensionId = "tah-copilot.tah-copilot";

interface Manifest {
    contributes: {
        commands: { command: string; title: string; category?: string }[];
        menus?: { commandPalette?: { command: string; when: string }[] };
        views: Record<string, { id: string; type?: string }[]>;
    };
}

function extension(): vscode.Extension<TahExtensionApi> {
    const found = vscode.extensions.getExtension<TahExtensionApi>(extensionId);
    assert.ok(found, `${extensionId} is installed`);
    return found;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

suite("activation", () => {
    test("activates and loads the bundled model when no model is set", async () => {
        const api = await extension().activate();
        assert.equal(extension().isActive, true);
        assert.equal(vscode.workspace.getConfiguration("tah").get("modelPath"), "");
        await waitFor(() => api.statusText().startsWith("$(sparkle) TaH: tah-code-default"), "the bundled model in the status bar", 60_000);
    });

    test("the status text follows the model setting", async () => {
        const api = await extension().activate();
        const config = vscode.workspace.getConfiguration("tah");
        await config.update("modelPath", "/models/example.gguf", vscode.ConfigurationTarget.Global);
        try {
            // the engine tries the path and reports the failure in the status bar
            await waitFor(() => api.statusText() === "$(error) TaH: model not loaded", "the 'model not loaded' state", 60_000);
        } finally {
            await config.update("modelPath", undefined, vscode.ConfigurationTarget.Global);
        }
        await waitFor(() => api.statusText().startsWith("$(sparkle) TaH: tah-code-default"), "the bundled model again", 60_000);
    });

    test("every command of the status-bar menu is registered", async () => {
        await extension().activate();
        const registered = new Set(await vscode.commands.getCommands(true));
        for (const entry of menuEntries(true)) assert.ok(registered.has(entry.command), `${entry.command} is registered`);
    });

    test("the palette shows only registered commands, all titled TaH", async () => {
        await extension().activate();
        const manifest = extension().packageJSON as Manifest;
        const hidden = new Set((manifest.contributes.menus?.commandPalette ?? [])
            .filter((item) => item.when === "false").map((item) => item.command));
        const registered = new Set(await vscode.commands.getCommands(true));
        const shown = manifest.contributes.commands.filter((command) => !hidden.has(command.command));
        for (const command of shown) {
            assert.ok(registered.has(command.command), `${command.command} is registered`);
            assert.equal(command.category, "TaH");
        }
    });

    test("the chat view provider is registered and its webview loads", async () => {
        const api = await extension().activate();
        const manifest = extension().packageJSON as Manifest;
        assert.ok(manifest.contributes.views.tah?.some((view) => view.id === chatViewId && view.type === "webview"));
        await vscode.commands.executeCommand(commandIds.openChat);
        // The webview's script says "ready" only after it loaded under the page's CSP.
        await Promise.race([
            api.chatViewReady,
            new Promise((_resolve, reject) => setTimeout(() => { reject(new Error("the chat webview never said ready")); }, 20_000)),
        ]);
    });

    test("settings are contributed with their defaults", () => {
        const config = vscode.workspace.getConfiguration("tah");
        assert.equal(config.get("modelPath"), "");
        assert.equal(config.get("gpu"), "auto");
        assert.equal(config.get("threads"), 0);
        assert.equal(config.get("decider.threshold"), null);
        assert.equal(config.get("inlineCompletion.enabled"), true);
        assert.equal(typeof config.get("inlineCompletion.debounceMs"), "number");
        assert.equal(typeof config.get("contextSize"), "number");
    });
});
