import * as vscode from "vscode";
import { commandIds } from "./commandIds.js";

export interface MenuEntry {
    readonly label: string;
    readonly detail: string;
    readonly command: string;
    readonly args: readonly unknown[];
}

/** What the status-bar menu offers. */
export function menuEntries(inlineEnabled: boolean): MenuEntry[] {
    return [
        { label: "$(cloud-download) Get a Model…", detail: "A TaH chat model or a code model for ghost text, downloaded and set up", command: commandIds.getModel, args: [] },
        { label: "$(file-binary) Select Model…", detail: "A TaH model folder (made by the converter) or a plain .gguf file", command: commandIds.selectModel, args: [] },
        {
            label: inlineEnabled ? "$(circle-slash) Turn Inline Completions Off" : "$(check) Turn Inline Completions On",
            detail: "Ghost-text suggestions while typing", command: commandIds.toggleInlineCompletions, args: []
        },
        { label: "$(comment-discussion) Open Chat", detail: "The TaH chat side panel", command: commandIds.openChat, args: [] },
        { label: "$(flame) Show Difficulty of This File / Selection", detail: "A heatmap of the tokens the model finds hard", command: commandIds.showDifficulty, args: [] },
        { label: "$(eye) Toggle Difficulty Heatmap", detail: "Show or hide the heatmap", command: commandIds.toggleHeatmap, args: [] },
        { label: "$(preview) Show Completion Preview", detail: "The current suggestion with its hard tokens highlighted", command: commandIds.showCompletionPreview, args: [] },
        { label: "$(package) Convert a TaH Checkpoint…", detail: "Turn a downloaded checkpoint into a model the copilot loads", command: commandIds.convertCheckpoint, args: [] },
        { label: "$(debug-restart) Restart Engine", detail: "Restart the engine process and load the model again", command: commandIds.restartEngine, args: [] },
        { label: "$(output) Show Logs", detail: "Open the TaH Copilot log", command: commandIds.showLogs, args: [] },
        { label: "$(gear) Settings", detail: "Model, backend, threads, context, threshold, inline completions", command: "workbench.action.openSettings", args: ["@ext:tah-copilot.tah-copilot"] }
    ];
}

export async function showMenu(title: string, inlineEnabled: boolean): Promise<void> {
    const picked = await vscode.window.showQuickPick(
        menuEntries(inlineEnabled).map((entry) => ({ label: entry.label, detail: entry.detail, entry })),
        { title: `TaH Copilot — ${title}`, placeHolder: "Choose an action" }
    );
    if (picked)
        await vscode.commands.executeCommand(picked.entry.command, ...picked.entry.args);
}
