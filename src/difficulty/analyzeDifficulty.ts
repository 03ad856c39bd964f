import * as vscode from "vscode";
import type { EngineHost } from "../engineHost/EngineHost.js";
import type { DifficultyStore } from "./DifficultyStore.js";
import { heatmapLevels, type HeatmapDecorations } from "./HeatmapDecorations.js";

export interface AnalysisSummary {
    tokens: number;
    hard: number;
    iterated: number;
    truncated: boolean;
}

/**
 * `TaH: Show Difficulty of This File / Selection`: a prefill-only pass over existing code (no generation) whose
 * per-token difficulty becomes the heatmap and the hover.
 */
export async function analyzeDifficulty(engine: EngineHost, store: DifficultyStore, heatmap: HeatmapDecorations): Promise<AnalysisSummary | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined) {
        void vscode.window.showInformationMessage("TaH: open a file to show its difficulty.");
        return undefined;
    }
    const document = editor.document;
    const range = editor.selection.isEmpty ? new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length)) : editor.selection;
    const base = document.offsetAt(range.start);
    const version = document.version;
    const result = await vscode.window.withProgress({
        location: vscode.ProgressLocation.Notification,
        title: `TaH: finding the hard tokens of ${editor.selection.isEmpty ? vscode.workspace.asRelativePath(document.uri) : "the selection"}`,
        cancellable: true
    }, (_progress, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        return engine.analyze(document.getText(range), controller.signal);
    });
    if (document.version !== version) {
        void vscode.window.showInformationMessage("TaH: the file changed during the difficulty pass; run it again.");
        return undefined;
    }
    store.setAnalysis(document.uri.toString(), result.tokens.map((token) => ({ start: base + token.start, end: base + token.end, view: token })));
    heatmap.setEnabled(true);
    const summary: AnalysisSummary = {
        tokens: result.tokens.length,
        hard: result.tokens.filter((token) => token.difficulty >= heatmapLevels[0]).length,
        iterated: result.tokens.filter((token) => token.iterated).length,
        truncated: result.truncated
    };
    const proxy = result.tokens[0]?.difficultyIsProxy === true ? " (proxy difficulty: plain model)" : "";
    vscode.window.setStatusBarMessage(`TaH: ${summary.hard} of ${summary.tokens} tokens hard, ${summary.iterated} iterated${proxy}${summary.truncated ? "; only the start fitted the context" : ""}`, 8000);
    return summary;
}
