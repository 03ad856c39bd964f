import * as vscode from "vscode";
import { itemsWithFlag, type ModelItem } from "./modelItems.js";

/** A model for an action run from the palette: the view's rows that offer it. */
export async function pickModelItem(items: readonly ModelItem[], flag: string): Promise<ModelItem | undefined> {
    const offered = itemsWithFlag(items, flag);
    if (offered.length === 0) {
        void vscode.window.showInformationMessage("TaH: no model for this; get one with “TaH: Get a Model…”.");
        return undefined;
    }
    return (await vscode.window.showQuickPick(offered.map((item) => ({ label: item.label, description: item.description, item })), { title: "TaH: which model?" }))?.item;
}
