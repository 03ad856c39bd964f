import * as vscode from "vscode";
import { commandIds } from "./commandIds.js";

/** What the status-bar item reports. The engine is not wired in yet, so a selected model is "not connected". */
export type TahState = "no model" | "not connected";

/** The status-bar item `$(sparkle) TaH: <state>`; clicking it opens the TaH menu. */
export class StatusBar implements vscode.Disposable {
    private readonly item: vscode.StatusBarItem;
    private current: TahState = "no model";

    constructor() {
        this.item = vscode.window.createStatusBarItem("tah.status", vscode.StatusBarAlignment.Right, 100);
        this.item.name = "TaH Copilot";
        this.item.command = commandIds.showMenu;
        this.render();
        this.item.show();
    }

    get state(): TahState {
        return this.current;
    }

    get text(): string {
        return this.item.text;
    }

    set(state: TahState): void {
        this.current = state;
        this.render();
    }

    dispose(): void {
        this.item.dispose();
    }

    private render(): void {
        this.item.text = `$(sparkle) TaH: ${this.current}`;
        this.item.tooltip = this.current === "no model"
            ? "TaH Copilot: no model selected (setting tah.modelPath). Click for the menu."
            : "TaH Copilot: a model is selected; the engine is not connected yet. Click for the menu.";
    }
}

/** The state that follows from the settings alone (until the engine reports its own). */
export function stateFromSettings(): TahState {
    const modelPath = vscode.workspace.getConfiguration("tah").get<string>("modelPath", "");
    return modelPath.trim() === "" ? "no model" : "not connected";
}
