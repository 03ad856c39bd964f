import * as vscode from "vscode";
import type { EngineStats } from "../engine/protocol/engineProtocol.js";
import type { EngineLocation } from "../engineHost/EngineConnection.js";
import type { EngineState } from "../engineHost/EngineController.js";
import { locationText } from "../engineHost/locationText.js";
import { commandIds } from "./commandIds.js";
import { statusText } from "./statusText.js";

/** The status-bar item; clicking it opens the TaH menu. */
export class StatusBar implements vscode.Disposable {
    private readonly item: vscode.StatusBarItem;

    constructor() {
        this.item = vscode.window.createStatusBarItem("tah.status", vscode.StatusBarAlignment.Right, 100);
        this.item.name = "TaH Copilot";
        this.item.command = commandIds.showMenu;
        this.item.show();
    }

    get text(): string {
        return this.item.text;
    }

    update(state: EngineState, stats: EngineStats | undefined, hasModelSetting: boolean, inlineEnabled: boolean, location: EngineLocation = { kind: "local" }): void {
        const { text, tooltip } = statusText(state, stats, hasModelSetting, inlineEnabled);
        const where = locationText(location);
        this.item.text = where === undefined ? text : `${text} · ${where.text}`;
        this.item.tooltip = where === undefined ? tooltip : `${tooltip}\n${where.tooltip}`;
        this.item.backgroundColor = state.kind === "failed" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
    }

    dispose(): void {
        this.item.dispose();
    }
}
