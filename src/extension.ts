// Wiring only: creates the extension's parts, connects them and hands every disposable to VS Code (so there is no
// deactivate: VS Code disposes context.subscriptions on shutdown).
import { existsSync } from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import { ChatViewProvider } from "./chat/ChatViewProvider.js";
import { InlineCompletionService } from "./completion/InlineCompletionService.js";
import { CompletionPreviewPanel } from "./completion/CompletionPreviewPanel.js";
import { acceptedArguments, completionAcceptedCommand, TahInlineCompletionProvider } from "./completion/TahInlineCompletionProvider.js";
import { analyzeDifficulty } from "./difficulty/analyzeDifficulty.js";
import { DifficultyHoverProvider } from "./difficulty/DifficultyHoverProvider.js";
import { DifficultyStore } from "./difficulty/DifficultyStore.js";
import { HeatmapDecorations } from "./difficulty/HeatmapDecorations.js";
import type { EngineStats } from "./engine/protocol/engineProtocol.js";
import { EngineHost } from "./engineHost/EngineHost.js";
import { describeEngineError, errorSentence } from "./engineHost/errorMessages.js";
import { languageModelVendor } from "./languageModels/chatModelInformation.js";
import { TahChatModelProvider } from "./languageModels/TahChatModelProvider.js";
import { chatSettings, engineSettings, engineUrl, inlineCompletionSettings, setBundledModel, updateSetting } from "./settings/vscodeSettings.js";
import { chatViewId, commandIds, modelsViewId } from "./ui/commandIds.js";
import { GetModelCommand, type GetModelArguments } from "./ui/getModelCommand.js";
import { HubToken } from "./ui/hubToken.js";
import type { ModelItem } from "./ui/modelItems.js";
import { pickModelItem } from "./ui/pickModelItem.js";
import { convertAgain, deleteModel, revealModel, useModelFor, type ModelActionsContext } from "./ui/modelActions.js";
import { ModelsView } from "./ui/ModelsView.js";
import { showMenu } from "./ui/menu.js";
import { convertCheckpointCommand } from "./ui/convertCheckpointCommand.js";
import { selectModel } from "./ui/selectModel.js";
import { StatusBar } from "./ui/StatusBar.js";

/** What `activate` returns: a small read-only surface, used by the integration tests. */
export interface TahExtensionApi {
    /** The status-bar text, e.g. "$(sparkle) TaH: no model". */
    readonly statusText: () => string;
    /** Resolves when a chat webview has loaded its script (under the CSP) and said "ready". */
    readonly chatViewReady: Promise<void>;
    readonly engine: EngineHost;
    readonly difficulty: DifficultyStore;
    readonly heatmap: HeatmapDecorations;
    /** The Models view's rows as last listed. */
    readonly models: ModelsView;
}

export function activate(context: vscode.ExtensionContext): TahExtensionApi {
    const log = vscode.window.createOutputChannel("TaH Copilot", { log: true });
    const bundled = vscode.Uri.joinPath(context.extensionUri, "models", "tah-code-default").fsPath;
    setBundledModel(existsSync(path.join(bundled, "tah-model.json")) ? bundled : undefined);
    const engine = new EngineHost(vscode.Uri.joinPath(context.extensionUri, "dist", "engine.mjs").fsPath, log, context.secrets);
    const store = new DifficultyStore();
    const heatmap = new HeatmapDecorations(store);
    const status = new StatusBar();
    const chat = new ChatViewProvider(context.extensionUri, log, engine, store, context.workspaceState);
    const preview = new CompletionPreviewPanel(context.extensionUri, log);
    const languageModels = new TahChatModelProvider(engine, chatSettings);
    const modelsDir = vscode.Uri.joinPath(context.globalStorageUri, "models").fsPath;
    const models = new ModelsView(modelsDir, log);
    const modelActions: ModelActionsContext = { engine, modelsDir, log, refresh: () => models.refresh() };
    const hubToken = new HubToken(context.secrets);
    const getModel = new GetModelCommand(modelActions, hubToken);
    /** A view action's argument is the clicked row; from the palette, the model is picked from the view's rows. */
    const onItem = (flag: string, action: (item: ModelItem) => Promise<unknown>) => async (item: ModelItem | undefined): Promise<unknown> => {
        const chosen = item ?? await pickModelItem(await models.getChildren(), flag);
        return chosen === undefined ? undefined : action(chosen);
    };
    const chatViewReady = new Promise<void>((resolve) => {
        const once = chat.onDidBecomeReady(() => {
            once.dispose();
            resolve();
        });
        context.subscriptions.push(once);
    });

    let stats: EngineStats | undefined;
    const refreshStatus = (): void => status.update(engine.state, stats, engineUrl() !== undefined || engineSettings() !== undefined, inlineCompletionSettings().enabled, engine.location);
    const completionService = new InlineCompletionService((params, options) => engine.complete(params, options), inlineCompletionSettings);
    const completionProvider = new TahInlineCompletionProvider(completionService, inlineCompletionSettings, log, (suggestion, where) => preview.update(suggestion, where));

    refreshStatus();
    context.subscriptions.push(
        log, engine, heatmap, status, chat, preview, languageModels, models,
        engine.onDidChangeState(refreshStatus),
        engine.onDidChangeLocation(refreshStatus),
        engine.onDidChangeState((state) => models.engineStateChanged(state)),
        vscode.window.registerTreeDataProvider(modelsViewId, models),
        vscode.commands.registerCommand(commandIds.getModel, (args?: GetModelArguments) => getModel.run(args)),
        vscode.commands.registerCommand(commandIds.setHubToken, () => hubToken.ask()),
        vscode.commands.registerCommand(commandIds.clearHubToken, () => hubToken.clear()),
        vscode.commands.registerCommand(commandIds.refreshModels, () => models.refresh()),
        vscode.commands.registerCommand(commandIds.useForChat, onItem("loadable", (item) => useModelFor("chat", item.model.path, log))),
        vscode.commands.registerCommand(commandIds.useForCompletion, onItem("loadable", (item) => useModelFor("completion", item.model.path, log))),
        vscode.commands.registerCommand(commandIds.convertAgain, onItem("convertible", (item) => convertAgain(modelActions, item))),
        vscode.commands.registerCommand(commandIds.revealModel, onItem("tahModel", revealModel)),
        vscode.commands.registerCommand(commandIds.deleteModel, onItem("managed", (item) => deleteModel(modelActions, item))),
        // a partial download's folder is named after its repository (`<owner>--<name>`)
        vscode.commands.registerCommand(commandIds.resumeDownload, onItem("resumable", (item) => getModel.run({ repo: item.model.name.replace("--", "/") }))),
        engine.onDidUpdateStats((result) => {
            stats = result.stats;
            refreshStatus();
        }),
        vscode.workspace.onDidChangeConfiguration((event) => {
            if (event.affectsConfiguration("tah")) {
                completionService.clearCache();
                refreshStatus();
                models.refresh();
            }
        }),
        vscode.workspace.onDidChangeTextDocument((event) => store.applyChanges(event.document.uri.toString(),
            event.contentChanges.map((change) => ({ offset: change.rangeOffset, deletedLength: change.rangeLength, insertedLength: change.text.length })))),
        vscode.workspace.onDidCloseTextDocument((document) => store.forget(document.uri.toString())),
        vscode.window.registerWebviewViewProvider(chatViewId, chat),
        vscode.lm.registerLanguageModelChatProvider(languageModelVendor, languageModels),
        vscode.languages.registerInlineCompletionItemProvider({ pattern: "**" }, completionProvider),
        vscode.languages.registerHoverProvider({ pattern: "**" }, new DifficultyHoverProvider(store)),
        vscode.commands.registerCommand(commandIds.showMenu, () => showMenu(status.text.replace(/^\$\([^)]+\) /, ""), inlineCompletionSettings().enabled)),
        // `<viewId>.focus` is the command VS Code generates for every view.
        vscode.commands.registerCommand(commandIds.openChat, () => vscode.commands.executeCommand(`${chatViewId}.focus`)),
        vscode.commands.registerCommand(commandIds.showLogs, () => log.show()),
        vscode.commands.registerCommand(commandIds.selectModel, selectModel),
        vscode.commands.registerCommand(commandIds.restartEngine, () => engine.restart()),
        vscode.commands.registerCommand(commandIds.toggleInlineCompletions, () => updateSetting("tah.inlineCompletion.enabled", !inlineCompletionSettings().enabled)),
        vscode.commands.registerCommand(commandIds.showDifficulty, () => analyzeDifficulty(engine, store, heatmap).catch((error: unknown) => {
            const description = describeEngineError(error);
            if (description.code !== "aborted")
                void vscode.window.showErrorMessage(`TaH: the difficulty pass failed. ${errorSentence(description)}`);
            return undefined;
        })),
        vscode.commands.registerCommand(commandIds.toggleHeatmap, () => heatmap.setEnabled(!heatmap.isEnabled)),
        vscode.commands.registerCommand(commandIds.convertCheckpoint, () => convertCheckpointCommand(engine, log)),
        vscode.commands.registerCommand(commandIds.showCompletionPreview, () => preview.show()),
        vscode.commands.registerCommand(commandIds.setEngineToken, async () => {
            const token = await vscode.window.showInputBox({
                title: "TaH: the remote engine's token", prompt: "The --api-key its tah serve was started with (empty: none). Kept in VS Code's secret storage.",
                password: true, ignoreFocusOut: true
            });
            if (token !== undefined)
                await engine.setEngineToken(token.trim());
        }),
        vscode.commands.registerCommand(completionAcceptedCommand, (...args: unknown[]) => {
            const accepted = acceptedArguments(args);
            if (accepted !== undefined)
                store.addWritten(accepted.uri.toString(), accepted.offset, accepted.tokens);
        })
    );
    log.info(`activated (VS Code ${vscode.version}, ${vscode.env.uiKind === vscode.UIKind.Web ? "web" : "desktop"} UI, Node ${process.version})`);
    // load the model in the background, so the first suggestion does not wait for it and start-up is not slowed
    setTimeout(() => void engine.ensureLoaded(), 0);
    return { statusText: () => status.text, chatViewReady, engine, difficulty: store, heatmap, models };
}
