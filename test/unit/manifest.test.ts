// Checks on package.json that VS Code would only reveal at install or run time.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { chatViewId, commandIds } from "../../src/ui/commandIds.js";

interface Manifest {
    name: string;
    publisher: string;
    main: string;
    engines: { vscode: string };
    activationEvents: string[];
    devDependencies: Record<string, string>;
    contributes: {
        commands: { command: string; title: string; category?: string }[];
        menus: { commandPalette: { command: string; when: string }[] };
        viewsContainers: { activitybar: { id: string; icon: string }[] };
        views: Record<string, { id: string; type?: string }[]>;
        configuration: { properties: Record<string, unknown> };
    };
}

const root = path.resolve(import.meta.dirname, "..", "..");
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as Manifest;

describe("package.json", () => {
    test("is an extension manifest for the pinned VS Code API", () => {
        assert.equal(`${manifest.publisher}.${manifest.name}`, "tah-copilot.tah-copilot");
        assert.equal(manifest.main, "./dist/extension.cjs");
        // vsce requires @types/vscode <= engines.vscode, and code-server 4.139.1 (Code 1.139) must accept it.
        assert.equal(manifest.engines.vscode, "^1.138.0");
        assert.equal(manifest.devDependencies["@types/vscode"], "1.138.0");
    });

    test("does not activate on start-up of every window", () => {
        assert.ok(!manifest.activationEvents.includes("*"));
    });

    test("every command is in the TaH category; those not implemented yet are hidden from the palette", () => {
        const hidden = new Set(manifest.contributes.menus.commandPalette
            .filter((entry) => entry.when === "false").map((entry) => entry.command));
        for (const command of manifest.contributes.commands) {
            assert.equal(command.category, "TaH", command.command);
            assert.match(command.command, /^tah\./);
        }
        const shown = manifest.contributes.commands.map((command) => command.command).filter((id) => !hidden.has(id));
        assert.deepEqual(shown.sort(), Object.values(commandIds).sort());
    });

    test("the chat view is a webview in the TaH activity-bar container", () => {
        const [container] = manifest.contributes.viewsContainers.activitybar;
        assert.ok(container);
        assert.ok(fs.existsSync(path.join(root, container.icon)), container.icon);
        assert.deepEqual(manifest.contributes.views[container.id], [
            { type: "webview", id: chatViewId, name: "Chat", icon: container.icon },
        ]);
    });

    test("settings live under tah.*", () => {
        const keys = Object.keys(manifest.contributes.configuration.properties).sort();
        assert.deepEqual(keys, [
            "tah.contextSize", "tah.decider.threshold", "tah.gpu", "tah.inlineCompletion.debounceMs",
            "tah.inlineCompletion.enabled", "tah.modelPath", "tah.threads",
        ]);
    });
});
