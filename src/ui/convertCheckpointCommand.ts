import path from "node:path";
import * as vscode from "vscode";
import type { EngineHost } from "../engineHost/EngineHost.js";
import { describeEngineError, errorSentence } from "../engineHost/errorMessages.js";
import { formatBytes } from "../format/formatBytes.js";
import { updateSetting } from "../settings/vscodeSettings.js";

/** The weight types offered in the picker, most useful first (all of src/convert/outputTypes.ts work from the CLI). */
const typeChoices: ReadonlyArray<{ label: string; description: string }> = [
    { label: "q8_0", description: "8-bit, about half of f16; near-lossless (recommended on CPU)" },
    { label: "bf16", description: "16-bit, exactly the checkpoint's bf16 weights" },
    { label: "f16", description: "16-bit half precision" },
    { label: "q6_k", description: "6-bit k-quant, smaller, small loss" },
    { label: "q4_k_m", description: "4-bit k-quant, smallest usable, visible loss" },
    { label: "f32", description: "32-bit, the largest; for checking" }
];

/** `TaH: Convert a TaH Checkpoint…`: pick a checkpoint folder, a type and where to write; then offer to use it. */
export async function convertCheckpointCommand(engine: EngineHost, log: vscode.LogOutputChannel): Promise<void> {
    const checkpoint = (await vscode.window.showOpenDialog({
        canSelectFiles: false, canSelectFolders: true, canSelectMany: false,
        openLabel: "Convert This Checkpoint", title: "TaH: the downloaded checkpoint folder (config.json, model.safetensors, lora/, iter_decider.bin, tah_config.json)"
    }))?.[0]?.fsPath;
    if (checkpoint === undefined)
        return;
    const type = await vscode.window.showQuickPick(typeChoices, { title: "TaH: weight type of the converted backbone" });
    if (type === undefined)
        return;
    const target = await vscode.window.showSaveDialog({
        defaultUri: vscode.Uri.file(path.join(path.dirname(checkpoint), `${path.basename(checkpoint)}-tah-${type.label}`)),
        saveLabel: "Write the Model Here", title: "TaH: the new model folder"
    });
    if (target === undefined)
        return;
    try {
        const result = await vscode.window.withProgress({
            location: vscode.ProgressLocation.Notification,
            title: `TaH: converting ${path.basename(checkpoint)} (${type.label})`,
            cancellable: true
        }, (progress, token) => {
            const controller = new AbortController();
            token.onCancellationRequested(() => controller.abort());
            let reported = 0;
            return engine.convert({ checkpointDir: checkpoint, outDir: target.fsPath, type: type.label, force: false }, (fraction, stage) => {
                progress.report({ message: stage, increment: Math.max(0, fraction - reported) * 100 });
                reported = Math.max(reported, fraction);
            }, controller.signal);
        });
        log.info(`converted ${checkpoint} to ${result.outDir}: ${result.files.map((file) => `${file.name} ${formatBytes(file.bytes)}`).join(", ")}`);
        const choice = await vscode.window.showInformationMessage(`TaH: converted to ${result.outDir}.`, "Use This Model");
        if (choice === "Use This Model")
            await updateSetting("tah.chat.model", result.outDir);
    } catch (error) {
        const description = describeEngineError(error);
        if (description.code === "aborted") {
            log.info(`conversion of ${checkpoint} cancelled`);
            void vscode.window.showInformationMessage("TaH: the conversion was cancelled; nothing was written.");
            return;
        }
        log.warn(`conversion of ${checkpoint} failed: ${description.code}: ${description.text}`);
        void vscode.window.showErrorMessage(`TaH: the conversion failed. ${errorSentence(description)}`);
    }
}
