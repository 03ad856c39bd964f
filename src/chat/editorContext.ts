// The active editor's selection, or its whole file, as context attached to a question.
import * as vscode from "vscode";
import type { Attachment } from "./ChatHistory.js";
import { maxAttachmentChars } from "./chatLimits.js";

/** 1-based first and last line of a selection; a selection ending at the start of a line does not include it. */
function lineRange(selection: vscode.Selection): [number, number] {
    const last = selection.end.character === 0 && selection.end.line > selection.start.line ? selection.end.line - 1 : selection.end.line;
    return [selection.start.line + 1, last + 1];
}

/** What attaching would attach now, e.g. "src/a.ts, lines 3–9" (the selection) or "src/a.ts" (the file). */
export function attachmentLabel(editor: vscode.TextEditor): string {
    const name = vscode.workspace.asRelativePath(editor.document.uri);
    if (editor.selection.isEmpty)
        return name;
    const [from, to] = lineRange(editor.selection);
    return from === to ? `${name}, line ${from}` : `${name}, lines ${from}–${to}`;
}

/** The selection, or the file when nothing is selected; refused with a note when it is too large. */
export function readAttachment(editor: vscode.TextEditor): Attachment | { error: string } {
    const { document, selection } = editor;
    const range = selection.isEmpty ? new vscode.Range(0, 0, document.lineCount, 0) : selection;
    const validated = document.validateRange(range);
    // measured before reading, so a huge file is not copied just to be refused
    const length = document.offsetAt(validated.end) - document.offsetAt(validated.start);
    const label = attachmentLabel(editor);
    if (length > maxAttachmentChars) {
        const what = selection.isEmpty ? "The file" : "The selection";
        return { error: `${what} (${label}) has ${length.toLocaleString("en")} characters; at most ${maxAttachmentChars.toLocaleString("en")} can be attached. Select the part the question is about.` };
    }
    return { label, languageId: document.languageId, text: document.getText(validated) };
}
