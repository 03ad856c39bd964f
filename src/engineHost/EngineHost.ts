import * as vscode from "vscode";
import type {
    AnalyzeResult, ChatParams, ChatResult, CompletionParams, CompletionResult, ConvertParams, ConvertResultView, EngineEvent, ModelSummary,
    StatusResult, TokenView
} from "../engine/protocol/engineProtocol.js";
import { EngineClient, EngineError, type EngineState } from "../engineClient/EngineClient.js";
import { engineSettings } from "./settings.js";
import type { EngineSettings } from "../engine/protocol/engineProtocol.js";

function sameSettings(a: EngineSettings | undefined, b: EngineSettings | undefined): boolean {
    return a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

export type { EngineState } from "../engineClient/EngineClient.js";

/**
 * The engine as the extension's features see it: the engine process (spawned on first need), the model from the
 * settings (loaded with a progress notification, reloaded when they change), and user-facing messages when
 * something goes wrong — once, with a way to fix it.
 */
export class EngineHost implements vscode.Disposable {
    private readonly client: EngineClient;
    private readonly stateEmitter = new vscode.EventEmitter<EngineState>();
    private readonly statsEmitter = new vscode.EventEmitter<StatusResult>();
    readonly onDidChangeState = this.stateEmitter.event;
    /** Fires after each completion or chat answer with the engine's running statistics. */
    readonly onDidUpdateStats = this.statsEmitter.event;
    private queue: Promise<unknown> = Promise.resolve();
    private reloadTimer: NodeJS.Timeout | undefined;
    private loadedSettings: EngineSettings | undefined;
    private failedSettings: EngineSettings | undefined;
    /** The backend setting the engine process was started for. */
    private processGpu: EngineSettings["gpu"] | undefined;
    private readonly disposables: vscode.Disposable[] = [];
    private crashReported = false;

    constructor(enginePath: string, private readonly log: vscode.LogOutputChannel) {
        this.client = new EngineClient({
            enginePath,
            log: (level, message) => log[level](message)
        });
        this.client.on("state", (state) => {
            this.stateEmitter.fire(state);
            if (state.kind === "crashed" && !this.crashReported) {
                this.crashReported = true;
                void vscode.window.showWarningMessage("TaH Copilot: the engine process stopped unexpectedly. It was restarted and the model is loading again.", "Show Logs")
                    .then((choice) => choice === "Show Logs" ? this.log.show() : undefined);
            }
        });
        this.disposables.push(vscode.workspace.onDidChangeConfiguration((event) => {
            if (["tah.modelPath", "tah.gpu", "tah.threads", "tah.contextSize", "tah.decider.threshold"].some((key) => event.affectsConfiguration(key)))
                this.scheduleReload();
        }));
    }

    get state(): EngineState {
        return this.client.state;
    }

    /** The engine process's pid (tests kill it on purpose). */
    get pid(): number | undefined {
        return this.client.pid;
    }

    /** Loads the model of the settings unless it is loaded; undefined when no model is selected. */
    ensureLoaded(): Promise<ModelSummary | undefined> {
        const state = this.client.state;
        if (state.kind === "ready" && sameSettings(this.loadedSettings, engineSettings()))
            return Promise.resolve(state.model);
        return this.enqueue(false);
    }

    /**
     * Settings changes come in bursts (one event per key): they are coalesced, and loads run one after another, each
     * for the settings current when it starts, so the last one wins without aborting in the middle of another.
     */
    private scheduleReload(): void {
        clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => void this.enqueue(false), 300);
    }

    private enqueue(force: boolean): Promise<ModelSummary | undefined> {
        const next = this.queue.then(() => this.applySettings(force));
        this.queue = next.catch(() => undefined);
        return next;
    }

    private async applySettings(force: boolean): Promise<ModelSummary | undefined> {
        const settings = engineSettings();
        if (settings === undefined) {
            if (this.loadedSettings !== undefined) {
                this.loadedSettings = undefined;
                await this.client.restart().catch(() => undefined);
            }
            this.stateEmitter.fire(this.client.state);
            return undefined;
        }
        if (this.processGpu !== undefined && this.processGpu !== settings.gpu) {
            // one native build per process: another backend needs a fresh engine process
            await this.client.restart().catch(() => undefined);
            this.loadedSettings = undefined;
        }
        this.processGpu = settings.gpu;
        const state = this.client.state;
        if (!force && state.kind === "ready" && sameSettings(this.loadedSettings, settings))
            return state.model;
        if (!force && state.kind === "failed" && sameSettings(this.failedSettings, settings))
            return undefined;
        return this.load(settings);
    }

    private async load(settings: EngineSettings): Promise<ModelSummary | undefined> {
        try {
            const model = await vscode.window.withProgress({
                location: vscode.ProgressLocation.Notification,
                title: `TaH Copilot: loading ${settings.modelPath.split(/[\\/]/).pop() ?? "the model"}`,
                cancellable: false
            }, async (progress) => {
                let reported = 0;
                return this.client.load(settings, (fraction) => {
                    progress.report({ increment: Math.max(0, fraction - reported) * 100 });
                    reported = fraction;
                });
            });
            this.loadedSettings = settings;
            this.failedSettings = undefined;
            return model;
        } catch (error) {
            this.loadedSettings = undefined;
            this.failedSettings = settings;
            this.reportLoadFailure(error);
            return undefined;
        }
    }

    private reportLoadFailure(error: unknown): void {
        const message = error instanceof Error ? error.message : String(error);
        this.log.error(`loading the model failed: ${message}`);
        const actions = error instanceof EngineError && error.code === "nativeBuild" ? ["Show Logs"] : ["Pick a Model…", "Open Settings", "Show Logs"];
        void vscode.window.showErrorMessage(`TaH Copilot could not load the model: ${message}`, ...actions).then((choice) => {
            if (choice === "Pick a Model…")
                void vscode.commands.executeCommand("tah.selectModel");
            else if (choice === "Open Settings")
                void vscode.commands.executeCommand("workbench.action.openSettings", "tah.modelPath");
            else if (choice === "Show Logs")
                this.log.show();
        });
    }

    /** Restarts the engine process and loads the model again. */
    async restart(): Promise<void> {
        this.crashReported = false;
        await this.client.restart().catch(() => undefined);
        await this.enqueue(true);
    }

    async complete(params: CompletionParams, options: { signal: AbortSignal; onEvent?: (event: EngineEvent) => void }): Promise<CompletionResult> {
        if ((await this.ensureLoaded()) === undefined)
            throw new EngineError("noModel", "no model is selected (setting tah.modelPath)");
        const result = await this.client.request("complete", params, options);
        this.statsEmitter.fire({ model: this.client.state.kind === "ready" ? this.client.state.model : null, stats: result.stats });
        return result;
    }

    async chat(params: Omit<ChatParams, "stream">, options: { signal: AbortSignal; onToken: (token: TokenView) => void }): Promise<ChatResult> {
        if ((await this.ensureLoaded()) === undefined)
            throw new EngineError("noModel", "no model is selected: pick one with “TaH: Select Model…”");
        const result = await this.client.request("chat", { ...params, stream: true }, {
            signal: options.signal,
            onEvent: (event) => {
                if (event.kind === "token")
                    options.onToken(event.token);
            }
        });
        this.statsEmitter.fire({ model: this.client.state.kind === "ready" ? this.client.state.model : null, stats: result.stats });
        return result;
    }

    async analyze(text: string, signal: AbortSignal): Promise<AnalyzeResult> {
        if ((await this.ensureLoaded()) === undefined)
            throw new EngineError("noModel", "no model is selected (setting tah.modelPath)");
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

    dispose(): void {
        clearTimeout(this.reloadTimer);
        for (const disposable of this.disposables)
            disposable.dispose();
        this.client.dispose();
        this.stateEmitter.dispose();
        this.statsEmitter.dispose();
    }
}
