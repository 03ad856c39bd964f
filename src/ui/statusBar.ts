import * as vscode from "vscode";
import type { EngineStats } from "../engine/protocol/engineProtocol.js";
import type { EngineState } from "../engineHost/EngineHost.js";
import { commandIds } from "./commandIds.js";

function percent(value: number): string {
    return `${Math.round(value * 100)}%`;
}

/** The status text for an engine state (pure, so tests can check every case). */
export function statusText(state: EngineState, stats: EngineStats | undefined, hasModelSetting: boolean, inlineEnabled: boolean): { text: string; tooltip: string } {
    const inline = inlineEnabled ? "" : " (inline off)";
    if (!hasModelSetting)
        return { text: "$(sparkle) TaH: no model", tooltip: "TaH Copilot: no model selected (setting tah.modelPath). Click for the menu." };
    switch (state.kind) {
        case "ready": {
            const { model } = state;
            const parts = [`$(sparkle) TaH: ${model.name}${inline}`];
            if (stats?.tokensPerSecond != null)
                parts.push(`${stats.tokensPerSecond.toFixed(1)} t/s`);
            if (model.kind === "tah" && stats !== undefined && stats.generatedTokens > 0)
                parts.push(`${percent(stats.iteratedTokens / stats.generatedTokens)} iterated`);
            return {
                text: parts.join(" · "),
                tooltip: `${model.name} — ${model.kind === "tah" ? `TaH model, threshold ${model.threshold}` : "plain GGUF (difficulty is a proxy)"}, ${model.backend}, ${model.threads} threads, context ${model.contextSize}${model.hasFim ? ", fill-in-the-middle" : ", prefix-only completion (no FIM tokens)"}. Click for the menu.`
            };
        }
        case "loading":
            return { text: `$(loading~spin) TaH: loading ${percent(state.fraction)}`, tooltip: "TaH Copilot: loading the model" };
        case "starting":
            return { text: "$(loading~spin) TaH: starting", tooltip: "TaH Copilot: starting the engine" };
        case "crashed":
            return { text: "$(warning) TaH: restarting", tooltip: "TaH Copilot: the engine stopped and is restarting" };
        case "failed":
            return { text: "$(error) TaH: model not loaded", tooltip: `TaH Copilot: ${state.error.message}. Click for the menu.` };
        default:
            return { text: `$(sparkle) TaH: not loaded${inline}`, tooltip: "TaH Copilot: the model loads on first use. Click for the menu." };
    }
}

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

    update(state: EngineState, stats: EngineStats | undefined, hasModelSetting: boolean, inlineEnabled: boolean): void {
        const { text, tooltip } = statusText(state, stats, hasModelSetting, inlineEnabled);
        this.item.text = text;
        this.item.tooltip = tooltip;
        this.item.backgroundColor = state.kind === "failed" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
    }

    dispose(): void {
        this.item.dispose();
    }
}
