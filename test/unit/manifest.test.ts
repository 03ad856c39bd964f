// Checks on package.json that VS Code would only reveal at install or run time.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { chatViewId, commandIds, modelsViewId } from "../../src/ui/commandIds.js";

interface Manifest {
    name: string;
    publisher: string;
    main: string;
    engines: { vscode: string };
    activationEvents: string[];
    devDependencies: Record<string, string>;
    contributes: {
        commands: { command: string; title: string; category?: string }[];
        menus?: { commandPalette?: { command: string; when: string }[] };
        viewsContainers: { activitybar: { id: string; icon: string }[] };
        views: Record<string, { id: string; type?: string }[]>;
        configuration: { properties: Record<string, { description?: string; markdownDescription?: string; default?: unknown }> };
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

    test("every command is declared in the TaH category and none is hidden from the palette", () => {
        for (const command of manifest.contributes.commands) {
            assert.equal(command.category, "TaH", command.command);
            assert.match(command.command, /^tah\./);
        }
        assert.deepEqual(manifest.contributes.commands.map((command) => command.command).sort(), Object.values(commandIds).sort());
        const hidden = (manifest.contributes.menus?.commandPalette ?? []).filter((entry) => entry.when === "false");
        assert.deepEqual(hidden, []);
    });

    test("the chat view is a webview and the Models view a tree in the TaH activity-bar container", () => {
        const [container] = manifest.contributes.viewsContainers.activitybar;
        assert.ok(container);
        assert.ok(fs.existsSync(path.join(root, container.icon)), container.icon);
        assert.deepEqual(manifest.contributes.views[container.id], [
            { type: "webview", id: chatViewId, name: "Chat", icon: container.icon },
            { id: modelsViewId, name: "Models", icon: container.icon },
        ]);
    });

    test("settings live under tah.*, each described, with the ones the engine needs", () => {
        const properties = manifest.contributes.configuration.properties;
        for (const [key, property] of Object.entries(properties)) {
            assert.match(key, /^tah\./);
            assert.ok(property.description !== undefined || property.markdownDescription !== undefined, `${key} has a description`);
            assert.ok("default" in property, `${key} has a default`);
        }
        for (const key of ["tah.modelPath", "tah.gpu", "tah.threads", "tah.contextSize", "tah.decider.threshold", "tah.inlineCompletion.enabled", "tah.inlineCompletion.debounceMs"])
            assert.ok(key in properties, key);
    });
});
