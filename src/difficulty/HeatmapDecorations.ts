import * as vscode from "vscode";
import type { DifficultyStore } from "./DifficultyStore.js";
import { depthMark, depthMarks } from "./tokenDepth.js";

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

/** The underline under a token that went deeper: dotted for depth 1, solid for 2, double for 3 or more (TaH2). */
const depthBorders: readonly { width: string; style: string }[] = [
    { width: "0 0 1px 0", style: "dotted" },
    { width: "0 0 2px 0", style: "solid" },
    { width: "0 0 3px 0", style: "double" },
];

/**
 * Paints analysed tokens by difficulty in the visible editors, one decoration type per level, each with a theme
 * colour (contributes.colors: tah.heatmap.level1 … level4) so users can restyle it; and underlines each token by how
 * deep it went (depthBorders), so TaH2's deeper tokens stand out from those that stopped after the second pass.
 */
export class HeatmapDecorations implements vscode.Disposable {
    private readonly types = heatmapLevels.map((_, index) => vscode.window.createTextEditorDecorationType({
        backgroundColor: new vscode.ThemeColor(`tah.heatmap.level${index + 1}`),
        overviewRulerColor: index >= 2 ? new vscode.ThemeColor(`tah.heatmap.level${index + 1}`) : undefined,
        overviewRulerLane: vscode.OverviewRulerLane.Right
    }));
    private readonly depthTypes = depthBorders.slice(0, depthMarks).map((border) => vscode.window.createTextEditorDecorationType({
        borderWidth: border.width,
        borderStyle: border.style,
        borderColor: new vscode.ThemeColor("editorInfo.foreground")
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
        const depthRanges: vscode.Range[][] = this.depthTypes.map(() => []);
        if (this.enabled) {
            const document = editor.document;
            for (const token of this.store.tokens(document.uri.toString(), "analysis")) {
                const range = new vscode.Range(document.positionAt(token.start), document.positionAt(token.end));
                const level = heatmapLevel(token.view.difficulty);
                if (level >= 0)
                    ranges[level].push(range);
                const mark = depthMark(token.view);
                if (mark >= 0)
                    depthRanges[mark].push(range);
            }
        }
        this.types.forEach((type, level) => editor.setDecorations(type, ranges[level]));
        this.depthTypes.forEach((type, mark) => editor.setDecorations(type, depthRanges[mark]));
        return ranges.map((list) => list.length);
    }

    refresh(): void {
        for (const editor of vscode.window.visibleTextEditors)
            this.paint(editor);
    }

    dispose(): void {
        for (const disposable of this.disposables)
            disposable.dispose();
        for (const type of [...this.types, ...this.depthTypes])
            type.dispose();
    }
}
