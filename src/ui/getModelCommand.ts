/**
 * `TaH: Get a Model…`: a curated model, another Hugging Face repository, or a file or folder on this machine. A hub
 * model is downloaded into the models folder under a cancellable progress notification (bytes, speed, time left); a
 * cancelled or interrupted download resumes the next time the same model is asked for, also after a restart of
 * VS Code. A TaH checkpoint is then converted through the engine process (the type chosen from this machine's memory,
 * changeable) and kept for converting again; a GGUF is used as it is. Nothing is fetched unless the user asks here.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as vscode from "vscode";
import { isOutputTypeName, type OutputTypeName } from "../convert/outputTypes.js";
import { readQwen3Config } from "../convert/qwen3Backbone.js";
import { tahManifestName } from "../engine/model/modelFiles.js";
import { formatBytes } from "../format/formatBytes.js";
import { catalogue, catalogueEntry, catalogueEntryForRepo, entryFigures, type CatalogueEntry } from "../models/catalogue.js";
import { DownloadError } from "../models/DownloadError.js";
import { HubClient } from "../models/HubClient.js";
import { installFromHub } from "../models/installFromHub.js";
import { checkpointsFolderName } from "../models/installedModels.js";
import { chooseDefaultType, type ModelShape, type TahShape } from "../models/memoryEstimate.js";
import { repoKindOf } from "../models/repoFiles.js";
import { parseRepoRef, type RepoRef } from "../models/repoRef.js";
import { hubConnection } from "../settings/vscodeSettings.js";
import { downloadProgressText } from "./downloadProgressText.js";
import type { HubToken } from "./hubToken.js";
import type { ServedRole } from "./modelItems.js";
import { convertedFolder, convertWithProgress, useModelFor, type ModelActionsContext } from "./modelActions.js";
import { pickConversionType } from "./typePicker.js";
import { commandIds } from "./commandIds.js";

/** What a script (or a test) may pass instead of answering the pickers. */
export interface GetModelArguments {
    readonly entry?: string;
    /** `owner/name[@revision]`: a repository instead of a catalogue entry (the Models view's Resume Download). */
    readonly repo?: string;
    readonly type?: string;
    readonly use?: ServedRole | "none";
}

interface HubChoice {
    readonly ref: RepoRef;
    readonly include?: readonly string[];
    readonly entry?: CatalogueEntry;
}

const otherRepoLabel = "$(cloud-download) Another Hugging Face repository…";
const localLabel = "$(folder-opened) A file or folder on this machine…";

function entryPick(entry: CatalogueEntry): vscode.QuickPickItem & { entry: CatalogueEntry } {
    const figures = entryFigures(entry, entry.ggufType ?? chooseDefaultType(entry.shape, os.totalmem(), entry.tah !== undefined ? { tah: entry.tah } : {}).type);
    const roles = entry.roles.map((role) => (role === "chat" ? "chat" : "ghost text")).join(", ");
    return {
        label: `${entry.kind === "gguf" ? "$(file-binary)" : "$(sparkle)"} ${entry.title}`,
        description: `${roles} · ${formatBytes(figures.sizeOnDiskBytes)} on disk (${figures.type}) · about ${formatBytes(figures.memory.totalBytes)} memory`,
        detail: `${entry.notRunnable !== undefined ? `Not yet: ${entry.notRunnable}. ` : ""}${entry.goodFor}. Licence: ${entry.licence}. ${entry.repo}`,
        entry
    };
}

async function askHubRepository(): Promise<HubChoice | undefined> {
    const text = await vscode.window.showInputBox({
        title: "TaH: a Hugging Face repository",
        prompt: "owner/name, optionally @revision (a branch, tag or commit): a TaH checkpoint or a GGUF repository",
        placeHolder: "ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF",
        ignoreFocusOut: true,
        validateInput: (value) => {
            try {
                parseRepoRef(value.trim());
                return undefined;
            } catch (error) {
                return (error as Error).message;
            }
        }
    });
    if (text === undefined)
        return undefined;
    const pattern = await vscode.window.showInputBox({
        title: "TaH: which files (optional)",
        prompt: "Glob patterns separated by spaces, e.g. *q8_0.gguf; empty: what the repository's kind needs",
        ignoreFocusOut: true
    });
    if (pattern === undefined)
        return undefined;
    const include = pattern.split(/\s+/).filter((glob) => glob !== "");
    return { ref: parseRepoRef(text.trim()), ...(include.length > 0 ? { include } : {}) };
}

/** The folder a repository lands in: `<owner>--<name>` (the hub's own cache naming), checkpoints in their own folder. */
function repoFolder(modelsDir: string, repo: string, checkpoint: boolean): string {
    const name = repo.replace("/", "--");
    return checkpoint ? path.join(modelsDir, checkpointsFolderName, name) : path.join(modelsDir, name);
}

function describeDownloadError(error: DownloadError): string {
    if (error.code === "aborted")
        return "The download was cancelled; what arrived is kept, and asking for the same model again resumes it.";
    return error.message.charAt(0).toUpperCase() + error.message.slice(1) + (error.code === "network" || error.code === "server" ? ". Asking for the same model again resumes the download." : ".");
}

export class GetModelCommand {
    constructor(private readonly context: ModelActionsContext, private readonly token: HubToken) {}

    async run(args: GetModelArguments = {}): Promise<void> {
        const choice = args.entry !== undefined ? this.fromArguments(args.entry) : args.repo !== undefined ? this.fromRepo(args.repo) : await this.pick();
        if (choice === undefined)
            return;
        if (choice === "local")
            return this.fromDisk(args);
        if (choice.entry?.notRunnable !== undefined) {
            void vscode.window.showWarningMessage(`TaH: ${choice.entry.title} cannot run yet: ${choice.entry.notRunnable}.`);
            return;
        }
        // a curated checkpoint's shape is known: its type is chosen before the download, so nothing is asked after it
        const entryTah = choice.entry?.kind !== "gguf" ? choice.entry?.tah : undefined;
        const chosenType = entryTah === undefined || choice.entry === undefined ? undefined
            : await this.conversionType({ shape: choice.entry.shape, tah: entryTah, name: choice.entry.title }, args);
        if (entryTah !== undefined && chosenType === undefined)
            return;
        const downloaded = await this.download(choice);
        if (downloaded === undefined)
            return;
        if (downloaded.kind === "gguf")
            return this.offerUse(downloaded.model, choice.entry?.roles[0] ?? "completion", args);
        const type = chosenType ?? await this.conversionType({ checkpoint: downloaded.model, tah: { loraRank: 32 } }, args);
        if (type === undefined)
            return;
        const outDir = await convertWithProgress(this.context, downloaded.model, convertedFolder(this.context.modelsDir, downloaded.model, type), type);
        if (outDir !== undefined)
            await this.offerUse(outDir, "chat", args);
    }

    private fromArguments(id: string): HubChoice | undefined {
        const entry = catalogueEntry(id);
        if (entry === undefined) {
            void vscode.window.showErrorMessage(`TaH: no catalogue model "${id}" (${catalogue.map((known) => known.id).join(", ")}).`);
            return undefined;
        }
        return { ref: { repo: entry.repo, revision: entry.revision }, entry, ...(entry.include !== undefined ? { include: entry.include } : {}) };
    }

    /** A catalogue entry's repository keeps the entry's files and shape; any other is taken as it is. */
    private fromRepo(text: string): HubChoice | undefined {
        let ref: RepoRef;
        try {
            ref = parseRepoRef(text);
        } catch (error) {
            void vscode.window.showErrorMessage(`TaH: ${(error as Error).message}.`);
            return undefined;
        }
        const entry = catalogueEntryForRepo(ref.repo);
        return entry === undefined ? { ref } : { ref, entry, ...(entry.include !== undefined ? { include: entry.include } : {}) };
    }

    private async pick(): Promise<HubChoice | "local" | undefined> {
        const items: Array<vscode.QuickPickItem & { entry?: CatalogueEntry }> = [
            ...catalogue.map(entryPick),
            { label: "", kind: vscode.QuickPickItemKind.Separator },
            { label: otherRepoLabel, detail: "A TaH checkpoint (converted here) or a GGUF repository, by its id" },
            { label: localLabel, detail: "A TaH model folder, a TaH checkpoint folder (converted here) or a .gguf file" }
        ];
        const picked = await vscode.window.showQuickPick(items, {
            title: "TaH: Get a Model",
            placeHolder: `Downloads from ${new HubClient({ ...this.connectionOptions() }).endpoint} only after you choose`,
            matchOnDescription: true,
            matchOnDetail: true
        });
        if (picked === undefined)
            return undefined;
        if (picked.entry !== undefined)
            return { ref: { repo: picked.entry.repo, revision: picked.entry.revision }, entry: picked.entry, ...(picked.entry.include !== undefined ? { include: picked.entry.include } : {}) };
        return picked.label === localLabel ? "local" : askHubRepository();
    }

    private connectionOptions(): { endpoint?: string; proxy?: string; proxyStrictSSL: boolean } {
        const connection = hubConnection();
        return {
            ...(connection.endpoint !== undefined ? { endpoint: connection.endpoint } : {}),
            ...(connection.proxy !== undefined ? { proxy: connection.proxy } : {}),
            proxyStrictSSL: connection.proxyStrictSSL
        };
    }

    /** The download into the models folder; a model already there is not fetched again. */
    private async download(choice: HubChoice): Promise<{ kind: "tah" | "gguf"; model: string } | undefined> {
        const kindHint = choice.entry?.kind;
        const known = kindHint !== undefined ? repoFolder(this.context.modelsDir, choice.ref.repo, kindHint !== "gguf") : undefined;
        if (known !== undefined && existsSync(known))
            return { kind: kindHint === "gguf" ? "gguf" : "tah", model: kindHint === "gguf" ? this.firstGguf(known) : known };
        const token = await this.token.get();
        const client = new HubClient({ ...this.connectionOptions(), ...(token !== undefined ? { token } : {}) });
        try {
            return await vscode.window.withProgress({
                location: vscode.ProgressLocation.Notification,
                title: `TaH: downloading ${choice.ref.repo}`,
                cancellable: true
            }, async (progress, cancel) => {
                const controller = new AbortController();
                cancel.onCancellationRequested(() => controller.abort());
                // the kind decides the folder, so list first (the hub's answer is what counts, not the catalogue's)
                const snapshot = await client.listFiles(choice.ref.repo, choice.ref.revision, controller.signal);
                const kind = repoKindOf(snapshot.files.map((file) => file.path));
                const outDir = repoFolder(this.context.modelsDir, choice.ref.repo, kind !== "gguf");
                if (existsSync(outDir))
                    return { kind: kind === "gguf" ? "gguf" : "tah", model: kind === "gguf" ? this.firstGguf(outDir) : outDir };
                let reported = 0;
                const result = await installFromHub({
                    client,
                    ref: choice.ref,
                    outDir,
                    convert: false,
                    signal: controller.signal,
                    ...(choice.include !== undefined ? { include: choice.include } : {}),
                    onProgress: (update) => {
                        if (update.stage === "list")
                            return progress.report({ message: update.message });
                        if (update.stage !== "download")
                            return undefined;
                        const fraction = update.download.totalBytes === 0 ? 1 : update.download.doneBytes / update.download.totalBytes;
                        progress.report({ message: downloadProgressText(update.download), increment: Math.max(0, fraction - reported) * 100 });
                        reported = Math.max(reported, fraction);
                    }
                });
                this.context.log.info(`downloaded ${choice.ref.repo}@${result.commit.slice(0, 12)} to ${outDir}: ${result.files.join(", ")}`);
                return result.kind === "gguf" ? { kind: "gguf" as const, model: path.join(outDir, result.gguf?.[0]?.file ?? result.files[0]) } : { kind: "tah" as const, model: outDir };
            });
        } catch (error) {
            await this.reportDownloadFailure(error);
            return undefined;
        } finally {
            this.context.refresh();
            await client.close();
        }
    }

    private firstGguf(folder: string): string {
        const file = readdirSync(folder).filter((name) => name.toLowerCase().endsWith(".gguf")).sort()[0];
        return file === undefined ? folder : path.join(folder, file);
    }

    private async reportDownloadFailure(error: unknown): Promise<void> {
        if (!(error instanceof DownloadError)) {
            this.context.log.error(`download failed: ${(error as Error).stack ?? String(error)}`);
            void vscode.window.showErrorMessage(`TaH: the download failed: ${(error as Error).message}`);
            return;
        }
        this.context.log.warn(`download: ${error.code}: ${error.message}`);
        if (error.code === "aborted") {
            void vscode.window.showInformationMessage(`TaH: ${describeDownloadError(error)}`);
            return;
        }
        if (error.code === "unauthorized") {
            const answer = await vscode.window.showErrorMessage(`TaH: ${describeDownloadError(error)}`, "Set Token…");
            if (answer === "Set Token…")
                await vscode.commands.executeCommand(commandIds.setHubToken);
            return;
        }
        void vscode.window.showErrorMessage(`TaH: ${describeDownloadError(error)}`);
    }

    /** The type from the arguments, else picked with this machine's default: from a catalogue shape or a checkpoint's config. */
    private async conversionType(
        of: { readonly shape: ModelShape; readonly tah: TahShape; readonly name: string } | { readonly checkpoint: string; readonly tah: TahShape },
        args: GetModelArguments
    ): Promise<OutputTypeName | undefined> {
        if (args.type !== undefined) {
            if (isOutputTypeName(args.type))
                return args.type;
            void vscode.window.showErrorMessage(`TaH: "${args.type}" is not a weight type the converter knows.`);
            return undefined;
        }
        if ("checkpoint" in of)
            return pickConversionType(await readQwen3Config(of.checkpoint), of.tah, `TaH: convert ${path.basename(of.checkpoint)}`);
        return pickConversionType(of.shape, of.tah, `TaH: convert ${of.name} after the download`);
    }

    private async offerUse(modelPath: string, suggested: ServedRole, args: GetModelArguments): Promise<void> {
        this.context.refresh();
        if (args.use === "none")
            return;
        const role = args.use ?? (await this.askRole(modelPath, suggested));
        if (role !== undefined)
            await useModelFor(role, modelPath, this.context.log);
    }

    private async askRole(modelPath: string, suggested: ServedRole): Promise<ServedRole | undefined> {
        const chat = "Use for Chat";
        const completion = "Use for Ghost Text";
        const answer = await vscode.window.showInformationMessage(`TaH: ${path.basename(modelPath)} is ready.`, ...(suggested === "chat" ? [chat, completion] : [completion, chat]));
        return answer === chat ? "chat" : answer === completion ? "completion" : undefined;
    }

    /** A TaH model folder or a .gguf is used where it is; a TaH checkpoint folder is converted into the models folder. */
    private async fromDisk(args: GetModelArguments): Promise<void> {
        const chosen = (await vscode.window.showOpenDialog({
            canSelectFiles: true, canSelectFolders: true, canSelectMany: false,
            openLabel: "Use This Model", title: "TaH: a TaH model folder, a TaH checkpoint folder or a .gguf file",
            filters: { "GGUF models": ["gguf"], "TaH model manifest": ["json"] }
        }))?.[0]?.fsPath;
        if (chosen === undefined)
            return;
        const folder = statSync(chosen).isDirectory() ? chosen : path.basename(chosen) === tahManifestName ? path.dirname(chosen) : undefined;
        if (folder === undefined) {
            if (!chosen.toLowerCase().endsWith(".gguf")) {
                void vscode.window.showErrorMessage(`TaH: ${chosen} is not a .gguf file.`);
                return;
            }
            return this.offerUse(chosen, "completion", args);
        }
        if (existsSync(path.join(folder, tahManifestName)))
            return this.offerUse(folder, "chat", args);
        if (existsSync(path.join(folder, "tah_config.json")) && existsSync(path.join(folder, "iter_decider.bin"))) {
            const type = await this.conversionType({ checkpoint: folder, tah: { loraRank: 32 } }, args);
            if (type === undefined)
                return;
            const outDir = await convertWithProgress(this.context, folder, convertedFolder(this.context.modelsDir, folder, type), type);
            if (outDir !== undefined)
                await this.offerUse(outDir, "chat", args);
            return;
        }
        void vscode.window.showErrorMessage(`TaH: ${folder} is neither a TaH model folder (${tahManifestName}) nor a TaH checkpoint (tah_config.json, iter_decider.bin).`);
    }
}
