import { existsSync, statSync } from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import { updateSetting } from "../settings/vscodeSettings.js";

/** `TaH: Select Model…`: a TaH model folder (with tah-model.json) or a .gguf file; stored in tah.chat.model (Get a Model sets either role). */
export async function selectModel(): Promise<void> {
    const picked = await vscode.window.showOpenDialog({
        canSelectFiles: true,
        canSelectFolders: true,
        canSelectMany: false,
        openLabel: "Use This Model",
        title: "TaH: select a TaH model folder or a .gguf file",
        filters: { "GGUF models": ["gguf"], "TaH model manifest": ["json"] }
    });
    const chosen = picked?.[0]?.fsPath;
    if (chosen === undefined)
        return;
    const isFolder = statSync(chosen).isDirectory();
    const modelPath = isFolder || path.basename(chosen) !== "tah-model.json" ? chosen : path.dirname(chosen);
    if (isFolder && !existsSync(path.join(chosen, "tah-model.json"))) {
        void vscode.window.showErrorMessage(`TaH: ${chosen} has no tah-model.json. Convert a checkpoint with “TaH: Convert a TaH Checkpoint…”, or pick a .gguf file.`);
        return;
    }
    await updateSetting("tah.chat.model", modelPath);
}
