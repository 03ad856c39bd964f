import * as vscode from "vscode";
import type { DifficultyStore } from "./DifficultyStore.js";

/** Lower bounds of the heatmap's levels (difficulty below the first is not decorated). */
export const heatmapLevels = [0.5, 0.7, 0.85, 0.95] as const;

export function heatmapLevel(difficulty: number): number {
    let level = -1;
    heatmapLevels.forEach((bound, index) => {
        if (difficulty >= bound)
            level = index;
    });
    return level;
}

/**
 * Paints analysed tokens by difficulty in the visible editors, one decoration type per level, each with a theme
 * colour (contributes.colors: tah.heatmap.level1 … level4) so users can restyle it.
 */
export class HeatmapDecorations implements vscode.Disposable {
    private readonly types = heatmapLevels.map((_, index) => vscode.window.createTextEditorDecorationType({
        backgroundColor: new vscode.ThemeColor(`tah.heatmap.level${index + 1}`),
        overviewRulerColor: index >= 2 ? new vscode.ThemeColor(`tah.heatmap.level${index + 1}`) : undefined,
        overviewRulerLane: vscode.OverviewRulerLane.Right
    }));
    private readonly disposables: vscode.Disposable[] = [];
    private enabled = true;

    constructor(private readonly store: DifficultyStore) {
        this.disposables.push(
            vscode.window.onDidChangeVisibleTextEditors(() => this.refresh()),
            new vscode.Disposable(() => store.off("change", this.onStoreChange))
        );
        store.on("change", this.onStoreChange);
    }

    private readonly onStoreChange = (): void => this.refresh();

    get isEnabled(): boolean {
        return this.enabled;
    }

    setEnabled(enabled: boolean): void {
        this.enabled = enabled;
        void vscode.commands.executeCommand("setContext", "tah.heatmapEnabled", enabled);
        this.refresh();
    }

    /** Counts of decorated tokens per level in an editor (for tests and the status of the command). */
    paint(editor: vscode.TextEditor): number[] {
        const ranges: vscode.Range[][] = heatmapLevels.map(() => []);
        if (this.enabled) {
            const document = editor.document;
            for (const token of this.store.tokens(document.uri.toString(), "analysis")) {
                const level = heatmapLevel(token.view.difficulty);
                if (level >= 0)
                    ranges[level].push(new vscode.Range(document.positionAt(token.start), document.positionAt(token.end)));
            }
        }
        this.types.forEach((type, level) => editor.setDecorations(type, ranges[level]));
        return ranges.map((list) => list.length);
    }

    refresh(): void {
        for (const editor of vscode.window.visibleTextEditors)
            this.paint(editor);
    }

    dispose(): void {
        for (const disposable of this.disposables)
            disposable.dispose();
        for (const type of this.types)
            type.dispose();
    }
}
