import * as vscode from "vscode";
import type { DifficultyStore } from "./DifficultyStore.js";
import { hoverMarkdown } from "./hoverContent.js";

/** The hover on text the copilot wrote or analysed: how hard each token was and what the second pass did. */
export class DifficultyHoverProvider implements vscode.HoverProvider {
    constructor(private readonly store: DifficultyStore) {}

    provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
        const found = this.store.tokenAt(document.uri.toString(), document.offsetAt(position));
        if (found === undefined)
            return undefined;
        // untrusted, no HTML: the model's text stays text
        const markdown = new vscode.MarkdownString(hoverMarkdown(found.token.view, found.origin));
        return new vscode.Hover(markdown, new vscode.Range(document.positionAt(found.token.start), document.positionAt(found.token.end)));
    }
}
