import * as vscode from "vscode";
import { commandIds } from "./commandIds.js";

export interface MenuEntry {
    readonly label: string;
    readonly detail: string;
    readonly command: string;
    readonly args: readonly unknown[];
}

/** What the status-bar menu offers: only commands that work now. */
export const menuEntries: readonly MenuEntry[] = [
    { label: "$(comment-discussion) Open Chat", detail: "Show the TaH chat view", command: commandIds.openChat, args: [] },
    { label: "$(output) Show Logs", detail: "Open the TaH Copilot log", command: commandIds.showLogs, args: [] },
    {
        label: "$(gear) Settings",
        detail: "Model path, GPU backend, threads, context size, decider threshold, inline completions",
        command: "workbench.action.openSettings",
        args: ["@ext:tah-copilot.tah-copilot"],
    },
];

export async function showMenu(state: string): Promise<void> {
    const picked = await vscode.window.showQuickPick(
        menuEntries.map((entry) => ({ label: entry.label, detail: entry.detail, entry })),
        { title: `TaH Copilot — ${state}`, placeHolder: "Choose an action" },
    );
    if (picked) await vscode.commands.executeCommand(picked.entry.command, ...picked.entry.args);
}
