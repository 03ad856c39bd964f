/** What the Models view's menu and Get a Model do with a model: use it for a role, convert again, reveal, delete. */
import { existsSync } from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import { readQwen3Config } from "../convert/qwen3Backbone.js";
import type { OutputTypeName } from "../convert/outputTypes.js";
import type { EngineHost } from "../engineHost/EngineHost.js";
import { describeEngineError, errorSentence } from "../engineHost/errorMessages.js";
import { formatBytes } from "../format/formatBytes.js";
import { catalogueEntryForRepo } from "../models/catalogue.js";
import { checkMemoryFit } from "../models/memoryFit.js";
import { deleteInstalledModel } from "../models/safeDelete.js";
import { declaration } from "../settings/settings.js";
import { engineSettings, modelPaths, settingsNaming, updateSetting } from "../settings/vscodeSettings.js";
import type { ModelItem, ServedRole } from "./modelItems.js";
import { pickConversionType } from "./typePicker.js";

const roleSetting = { chat: "tah.chat.model", completion: "tah.completion.model" } as const;
const roleWords = { chat: "chat (and file analysis)", completion: "ghost text" } as const;

export interface ModelActionsContext {
    readonly engine: EngineHost;
    readonly modelsDir: string;
    readonly log: vscode.LogOutputChannel;
    readonly refresh: () => void;
}

/** Warns before a choice that does not fit this machine's memory; true: go on. */
async function confirmFit(models: { chat: string; completion: string | null }, log: vscode.LogOutputChannel): Promise<boolean> {
    const contextSize = engineSettings()?.contextSize ?? (declaration("tah.contextSize").default as number);
    try {
        const fit = await checkMemoryFit(models, contextSize);
        if (fit.fits)
            return true;
        const answer = await vscode.window.showWarningMessage(
            `TaH: these models need about ${formatBytes(fit.totalBytes)} loaded (context ${contextSize}), more than the ${formatBytes(fit.budgetBytes)} a model should take on this machine. Loading may slow the machine down or fail.`,
            { modal: true, detail: "A smaller type, a smaller model or a shorter tah.contextSize needs less." },
            "Use Anyway"
        );
        return answer === "Use Anyway";
    } catch (error) {
        // an unreadable model is not this check's to report: loading it gives the engine's precise error
        log.warn(`the memory check could not read the model: ${(error as Error).message}`);
        return true;
    }
}

/** Sets the role's model setting, after the memory check of the pair it makes. */
export async function useModelFor(role: ServedRole, modelPath: string, log: vscode.LogOutputChannel): Promise<boolean> {
    const current = modelPaths();
    const chat = role === "chat" ? modelPath : current?.chat ?? modelPath;
    const completion = role === "completion" ? modelPath : current?.completion ?? null;
    if (!(await confirmFit({ chat, completion }, log)))
        return false;
    await updateSetting(roleSetting[role], modelPath);
    log.info(`${modelPath} now serves ${roleWords[role]}`);
    return true;
}

/** Converts a checkpoint through the engine process, under a cancellable progress notification; the new folder or undefined. */
export async function convertWithProgress(context: ModelActionsContext, checkpointDir: string, outDir: string, type: OutputTypeName): Promise<string | undefined> {
    try {
        const result = await vscode.window.withProgress({
            location: vscode.ProgressLocation.Notification,
            title: `TaH: converting ${path.basename(checkpointDir)} to ${type}`,
            cancellable: true
        }, (progress, token) => {
            const controller = new AbortController();
            token.onCancellationRequested(() => controller.abort());
            let reported = 0;
            return context.engine.convert({ checkpointDir, outDir, type, force: false }, (fraction, stage) => {
                progress.report({ message: stage, increment: Math.max(0, fraction - reported) * 100 });
                reported = Math.max(reported, fraction);
            }, controller.signal);
        });
        context.log.info(`converted ${checkpointDir} to ${result.outDir} (${type})`);
        return result.outDir;
    } catch (error) {
        const description = describeEngineError(error);
        if (description.code === "aborted") {
            void vscode.window.showInformationMessage("TaH: the conversion was cancelled; nothing was written.");
            return undefined;
        }
        context.log.warn(`conversion of ${checkpointDir} failed: ${description.code}: ${description.text}`);
        void vscode.window.showErrorMessage(`TaH: the conversion failed. ${errorSentence(description)}`);
        return undefined;
    } finally {
        context.refresh();
    }
}

/** The folder a conversion of `checkpointDir` to `type` goes to: `<models>/<name>-<type>`, never over an existing one. */
export function convertedFolder(modelsDir: string, checkpointDir: string, type: string): string {
    const base = path.join(modelsDir, `${path.basename(checkpointDir).replace(/^.*--/, "")}-${type}`);
    let candidate = base;
    for (let n = 2; existsSync(candidate); n++)
        candidate = `${base}-${n}`;
    return candidate;
}

/** "Convert Again…": the kept checkpoint to another type, chosen with this machine's default. */
export async function convertAgain(context: ModelActionsContext, item: ModelItem): Promise<void> {
    const checkpoint = item.model.kind === "checkpoint" ? item.model.path : item.model.checkpoint;
    if (checkpoint === undefined) {
        void vscode.window.showErrorMessage(`TaH: the checkpoint ${item.model.name} was converted from is not in the models folder; get it again with “TaH: Get a Model…”.`);
        return;
    }
    const repo = path.basename(checkpoint).replace("--", "/");
    const tah = catalogueEntryForRepo(repo)?.tah ?? { loraRank: 32 };
    const type = await pickConversionType(await readQwen3Config(checkpoint), tah, `TaH: convert ${path.basename(checkpoint)} to another type`);
    if (type === undefined)
        return;
    const outDir = await convertWithProgress(context, checkpoint, convertedFolder(context.modelsDir, checkpoint, type), type);
    if (outDir !== undefined && (await vscode.window.showInformationMessage(`TaH: converted to ${path.basename(outDir)}.`, "Use for Chat")) === "Use for Chat")
        await useModelFor("chat", outDir, context.log);
}

export async function revealModel(item: ModelItem): Promise<void> {
    const uri = vscode.Uri.file(item.model.path);
    try {
        await vscode.commands.executeCommand("revealFileInOS", uri);
    } catch {
        // a browser-hosted VS Code has no file manager of its own
        await vscode.commands.executeCommand("revealInExplorer", uri).then(undefined, () =>
            vscode.window.showInformationMessage(`TaH: ${item.model.path}`));
    }
}

/** Delete, after a confirmation; only inside the models folder (safeDelete refuses anything else). */
export async function deleteModel(context: ModelActionsContext, item: ModelItem): Promise<void> {
    const naming = settingsNaming(item.model.path);
    const inUse = naming.length > 0 ? ` The settings that name it (${naming.join(", ")}) are cleared.` : "";
    const answer = await vscode.window.showWarningMessage(`TaH: delete ${item.model.name} (${formatBytes(item.model.sizeBytes)})?`,
        { modal: true, detail: `${item.model.path} is removed from disk.${inUse}` }, "Delete");
    if (answer !== "Delete")
        return;
    try {
        await deleteInstalledModel(context.modelsDir, item.model.path);
        for (const key of naming)
            await updateSetting(key, undefined);
        context.log.info(`deleted ${item.model.path}`);
    } catch (error) {
        void vscode.window.showErrorMessage(`TaH: ${(error as Error).message}`);
    } finally {
        context.refresh();
    }
}
