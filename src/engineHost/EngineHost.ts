import * as vscode from "vscode";
import type { EngineError } from "../engine/protocol/EngineError.js";
import type {
    AnalyzeResult, ChatParams, ChatResult, CompletionParams, CompletionResult, ConvertParams, ConvertResultView, EngineEvent,
    ModelSummary, StatusResult, TokenView
} from "../engine/protocol/engineProtocol.js";
import { EngineClient } from "../engineClient/EngineClient.js";
import { RemoteEngineClient } from "../engineClient/RemoteEngineClient.js";
import { engineSettingKeys } from "../settings/settings.js";
import { engineSettings, engineUrl, updateSetting } from "../settings/vscodeSettings.js";
import { commandIds } from "../ui/commandIds.js";
import { EngineConnection, type EngineLocation, remoteEngineSettings } from "./EngineConnection.js";
import { EngineController, type EngineState } from "./EngineController.js";
import { describeEngineError, type ErrorAction, errorActionLabels, errorSentence } from "./errorMessages.js";

export type { EngineState } from "./EngineController.js";
export type { EngineLocation } from "./EngineConnection.js";

/** Where the remote engine's token is kept (VS Code's SecretStorage, never the settings). */
const engineTokenKey = "tah.engine.token";

/**
 * The engine as the extension's features see it, wired to VS Code: where it runs (EngineConnection: the local
 * process or a remote tah serve), what it should have loaded (EngineController, which owns that), and VS Code's
 * progress, notifications, secrets and settings events. Each request needs the model of the current settings and
 * waits for it.
 */
export class EngineHost implements vscode.Disposable {
    private readonly local: EngineClient;
    private readonly client: EngineConnection;
    private readonly controller: EngineController;
    private readonly stateEmitter = new vscode.EventEmitter<EngineState>();
    private readonly statsEmitter = new vscode.EventEmitter<StatusResult>();
    private readonly locationEmitter = new vscode.EventEmitter<EngineLocation>();
    readonly onDidChangeState = this.stateEmitter.event;
    /** Fires when the engine moves (local or remote) and with each new round trip of a remote one. */
    readonly onDidChangeLocation = this.locationEmitter.event;
    /** Fires after each completion or chat answer with the engine's running statistics. */
    readonly onDidUpdateStats = this.statsEmitter.event;
    private readonly disposables: vscode.Disposable[] = [];

    constructor(enginePath: string, private readonly log: vscode.LogOutputChannel, private readonly secrets: vscode.SecretStorage) {
        this.local = new EngineClient({ enginePath, log: (level, message) => log[level](message) });
        this.client = new EngineConnection(this.local, (url) => new RemoteEngineClient({
            url,
            token: async () => await secrets.get(engineTokenKey) || undefined,
            log: (level, message) => log[level](message)
        }));
        this.client.configure(engineUrl());
        this.client.on("rtt", () => this.locationEmitter.fire(this.client.location));
        this.controller = new EngineController(this.client, {
            desired: () => {
                const url = engineUrl();
                return url !== undefined ? remoteEngineSettings(url) : engineSettings();
            },
            withLoadProgress: (settings, task) => vscode.window.withProgress({
                location: vscode.ProgressLocation.Notification,
                title: this.client.location.kind === "remote"
                    ? `TaH Copilot: connecting to ${settings.modelPath}`
                    : `TaH Copilot: loading ${settings.modelPath.split(/[\\/]/).pop() ?? "the model"}`,
                cancellable: false
            }, (progress) => {
                let reported = 0;
                return task((fraction) => {
                    progress.report({ increment: Math.max(0, fraction - reported) * 100 });
                    reported = fraction;
                });
            }),
            reportFailure: (error) => this.tell(error, vscode.window.showErrorMessage),
            reportCrash: (error) => this.tell(error, vscode.window.showWarningMessage),
            stateChanged: (state) => this.stateEmitter.fire(state)
        });
        this.disposables.push(vscode.workspace.onDidChangeConfiguration((event) => {
            if (engineSettingKeys.some((key) => event.affectsConfiguration(key))) {
                this.client.configure(engineUrl());
                this.locationEmitter.fire(this.client.location);
                void this.controller.settingsChanged();
            }
        }));
    }

    get state(): EngineState {
        return this.controller.state;
    }

    /** The local engine process's pid (tests kill it on purpose). */
    get pid(): number | undefined {
        return this.local.pid;
    }

    /** Where the engine runs (the status bar shows it, with a remote's round trip). */
    get location(): EngineLocation {
        return this.client.location;
    }

    /** Keeps the remote engine's token in the secret storage (empty: none) and connects again with it. */
    async setEngineToken(token: string): Promise<void> {
        if (token === "")
            await this.secrets.delete(engineTokenKey);
        else
            await this.secrets.store(engineTokenKey, token);
        if (this.client.location.kind === "remote")
            await this.restart();
    }

    /** Loads the model of the settings unless it is loaded; undefined when there is none to load. */
    ensureLoaded(): Promise<ModelSummary | undefined> {
        return this.controller.ensureLoaded();
    }

    /** The user's Restart Engine: a fresh process that loads the model of the settings once. */
    async restart(): Promise<void> {
        await this.controller.restart();
    }

    /** One notification per failure: the table's words, its actions as buttons. */
    private tell(error: EngineError, show: (message: string, ...items: string[]) => Thenable<string | undefined>): void {
        const description = describeEngineError(error);
        this.log.error(`${description.code}: ${error.message}`);
        const byLabel = new Map(description.actions.map((action) => [errorActionLabels[action], action] as const));
        void show(`TaH Copilot: ${errorSentence(description)}`, ...byLabel.keys()).then((label) => {
            const action = label === undefined ? undefined : byLabel.get(label);
            if (action !== undefined)
                void this.run(action, description.setting);
        });
    }

    private async run(action: ErrorAction, setting: string | undefined): Promise<void> {
        switch (action) {
            case "pickModel":
                await vscode.commands.executeCommand(commandIds.selectModel);
                return;
            case "openSettings":
                await vscode.commands.executeCommand("workbench.action.openSettings", setting ?? "tah");
                return;
            case "useCpu":
                await updateSetting("tah.gpu", "cpu");
                return;
            case "restartEngine":
            case "retry":
                await this.restart();
                return;
            case "setEngineToken":
                await vscode.commands.executeCommand(commandIds.setEngineToken);
                return;
            case "showLogs":
                this.log.show();
        }
    }

    async complete(params: CompletionParams, options: { signal: AbortSignal; onEvent?: (event: EngineEvent) => void }): Promise<CompletionResult> {
        await this.controller.requireModel();
        const result = await this.client.request("complete", params, options);
        this.statsEmitter.fire({ models: this.readyModels(), stats: result.stats });
        return result;
    }

    async chat(params: Omit<ChatParams, "stream">, options: { signal: AbortSignal; onToken: (token: TokenView) => void }): Promise<ChatResult> {
        await this.controller.requireModel();
        const result = await this.client.request("chat", { ...params, stream: true }, {
            signal: options.signal,
            onEvent: (event) => {
                if (event.kind === "token")
                    options.onToken(event.token);
            }
        });
        this.statsEmitter.fire({ models: this.readyModels(), stats: result.stats });
        return result;
    }

    async tokenCount(text: string): Promise<number> {
        await this.controller.requireModel();
        return (await this.client.request("tokenCount", { text })).tokens;
    }

    async analyze(text: string, signal: AbortSignal): Promise<AnalyzeResult> {
        await this.controller.requireModel();
        return this.client.request("analyze", { text }, { signal });
    }

    /** Converts a checkpoint in the engine process (it has llama.cpp's quantizer); no model needs to be loaded. */
    convert(params: ConvertParams, onProgress: (fraction: number, stage: string) => void, signal: AbortSignal): Promise<ConvertResultView> {
        return this.client.request("convert", params, {
            signal,
            onEvent: (event) => {
                if (event.kind === "progress")
                    onProgress(event.fraction, event.stage);
            }
        });
    }

    private readyModels(): StatusResult["models"] {
        const state = this.controller.state;
        return state.kind === "ready" ? { chat: state.model, completion: state.completionModel } : null;
    }

    dispose(): void {
        for (const disposable of this.disposables)
            disposable.dispose();
        this.controller.dispose();
        this.client.dispose();
        this.stateEmitter.dispose();
        this.statsEmitter.dispose();
        this.locationEmitter.dispose();
    }
}
