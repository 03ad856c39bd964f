import { EngineError, engineErrorCodeOf, toEngineError } from "../engine/protocol/EngineError.js";
import type { EngineSettings, LoadedModels, ModelSummary } from "../engine/protocol/engineProtocol.js";

export type EngineState =
    /** No model loaded (none selected, or it loads on first need). */
    | { kind: "idle" }
    | { kind: "loading"; fraction: number }
    /** model: the chat model (it also serves file analysis); completionModel: the inline-completion model. */
    | { kind: "ready"; model: ModelSummary; completionModel: ModelSummary }
    /** Not retried until the settings change or the user restarts the engine. */
    | { kind: "failed"; error: EngineError }
    /** The process ended unexpectedly (crash, no answer); the model is loaded again in a fresh one. */
    | { kind: "crashed"; error: EngineError };

/**
 * What the controller needs of the engine process (EngineClient in the product, which never loads on its own; or a
 * remote `tah serve`, whose load only connects: the server's own models are what it serves, so its states map as
 * connecting = loading, connected = ready with the server's models, unreachable or refused = failed until Retry).
 */
export interface EngineProcess {
    load(settings: EngineSettings, onProgress: (fraction: number) => void): Promise<LoadedModels>;
    /** Ends the process on purpose; the next request starts a fresh one. */
    stop(): void;
    on(event: "exit", listener: (error: EngineError) => void): unknown;
}

/** The host's side of the controller: where settings come from and how the user is told (VS Code in the product). */
export interface EngineControllerHooks {
    /** The settings the engine should run with now; undefined: no model. */
    desired(): EngineSettings | undefined;
    /** Runs one load under the host's progress UI. */
    withLoadProgress<T>(settings: EngineSettings, task: (report: (fraction: number) => void) => Promise<T>): PromiseLike<T>;
    /** A load failed or the engine cannot run: told once per failure; it is not retried on its own. */
    reportFailure(error: EngineError): void;
    /** The process ended unexpectedly and is being restarted: told at the first end within crashWindowMs. */
    reportCrash(error: EngineError): void;
    stateChanged(state: EngineState): void;
}

export interface EngineControllerOptions {
    /** More unexpected ends than this within crashWindowMs, and the engine is not restarted again. */
    maxCrashes?: number;
    crashWindowMs?: number;
    /** Settings change in bursts (one event per key): they are applied once this long after the last. */
    settleMs?: number;
    now?: () => number;
}

/** Ends of the process, not answers about the request: the exit handler decides what follows. */
const processLoss = new Set(["crashed", "timeout", "stopped"]);

/** Ends of a remote engine's connection (EngineConnection): not restarted in a loop, since its server is elsewhere. */
const remoteLoss = new Set(["unreachable", "unauthorized"]);

function sameSettings(a: EngineSettings, b: EngineSettings): boolean {
    return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The one owner of what the engine should have loaded. Settings changes, Restart, crashes, stuck engines and model
 * switches all end in the same step (reconcile), run one at a time, each for the settings current when it starts:
 * it loads what the settings ask for, with the same progress and error reporting whatever the cause. A failure is
 * reported once and not retried until the settings change or the user restarts; a process that keeps ending is given
 * up on (no restart loop). Free of VS Code, so the unit tests drive it with a fake engine process.
 */
export class EngineController {
    private current: EngineState = { kind: "idle" };
    private queue: Promise<unknown> = Promise.resolve();
    private loaded: { settings: EngineSettings; model: ModelSummary } | undefined;
    private failure: { settings: EngineSettings; error: EngineError } | undefined;
    /** The backend the running process was asked for: one native build per process, another needs a fresh one. */
    private processGpu: EngineSettings["gpu"] | undefined;
    /** When the process ended unexpectedly, within crashWindowMs. */
    private crashTimes: number[] = [];
    private settleTimer: NodeJS.Timeout | undefined;
    private settleWaiters: Array<(applied: Promise<ModelSummary | undefined> | undefined) => void> = [];
    private readonly maxCrashes: number;
    private readonly crashWindowMs: number;
    private readonly settleMs: number;
    private readonly now: () => number;

    constructor(private readonly process: EngineProcess, private readonly hooks: EngineControllerHooks, options: EngineControllerOptions = {}) {
        this.maxCrashes = options.maxCrashes ?? 3;
        this.crashWindowMs = options.crashWindowMs ?? 60_000;
        this.settleMs = options.settleMs ?? 300;
        this.now = options.now ?? Date.now;
        process.on("exit", (error) => this.onProcessExit(error));
    }

    get state(): EngineState {
        return this.current;
    }

    private setState(state: EngineState): void {
        this.current = state;
        this.hooks.stateChanged(state);
    }

    /** The loaded model of the current settings, loading it first if needed; undefined when it cannot be. */
    ensureLoaded(): Promise<ModelSummary | undefined> {
        const desired = this.hooks.desired();
        if (this.current.kind === "ready" && this.loaded !== undefined && desired !== undefined && sameSettings(this.loaded.settings, desired))
            return Promise.resolve(this.loaded.model);
        return this.enqueue();
    }

    /** Like ensureLoaded, but a request that needs the model fails with why there is none. */
    async requireModel(): Promise<ModelSummary> {
        const model = await this.ensureLoaded();
        if (model !== undefined)
            return model;
        if (this.current.kind === "failed")
            throw this.current.error;
        throw new EngineError("noModel", "no model is selected (setting tah.modelPath)");
    }

    /** The settings may have changed: applied once the burst settles. */
    settingsChanged(): Promise<ModelSummary | undefined> {
        clearTimeout(this.settleTimer);
        return new Promise((resolve) => {
            // every caller of the burst gets the one load it ends in
            this.settleWaiters.push(resolve);
            this.settleTimer = setTimeout(() => {
                const waiters = this.settleWaiters.splice(0);
                const applied = this.enqueue();
                for (const waiter of waiters)
                    waiter(applied);
            }, this.settleMs);
        });
    }

    /** The user's Restart: a fresh process, the failure and crash history forgotten, the current settings loaded once. */
    restart(): Promise<ModelSummary | undefined> {
        this.crashTimes = [];
        this.failure = undefined;
        // at once, not queued: a stuck load in the old process must not hold the restart up
        this.stopProcess();
        return this.enqueue();
    }

    dispose(): void {
        clearTimeout(this.settleTimer);
        for (const waiter of this.settleWaiters.splice(0))
            waiter(undefined);
    }

    private stopProcess(): void {
        this.process.stop();
        this.processGpu = undefined;
        this.loaded = undefined;
    }

    private enqueue(): Promise<ModelSummary | undefined> {
        const next = this.queue.then(() => this.reconcile());
        this.queue = next.catch(() => undefined);
        return next;
    }

    private async reconcile(): Promise<ModelSummary | undefined> {
        const desired = this.hooks.desired();
        if (desired === undefined) {
            if (this.processGpu !== undefined || this.loaded !== undefined)
                this.stopProcess();
            this.failure = undefined;
            this.setState({ kind: "idle" });
            return undefined;
        }
        if (this.loaded !== undefined && sameSettings(this.loaded.settings, desired))
            return this.loaded.model;
        if (this.failure !== undefined) {
            if (sameSettings(this.failure.settings, desired))
                return undefined;
            // new settings are a new attempt
            this.failure = undefined;
            this.crashTimes = [];
        }
        if (this.processGpu !== undefined && this.processGpu !== desired.gpu)
            this.stopProcess();
        return this.load(desired);
    }

    private async load(settings: EngineSettings): Promise<ModelSummary | undefined> {
        this.processGpu = settings.gpu;
        this.loaded = undefined;
        this.setState({ kind: "loading", fraction: 0 });
        try {
            const models = await this.hooks.withLoadProgress(settings, (report) => this.process.load(settings, (fraction) => {
                this.setState({ kind: "loading", fraction });
                report(fraction);
            }));
            this.loaded = { settings, model: models.chat };
            this.setState({ kind: "ready", model: models.chat, completionModel: models.completion });
            return models.chat;
        } catch (thrown) {
            const error = toEngineError(thrown);
            // the process ended under the load: onProcessExit (or restart) already decided what comes next
            if (processLoss.has(engineErrorCodeOf(error)))
                return undefined;
            this.fail(settings, error);
            return undefined;
        }
    }

    private fail(settings: EngineSettings, error: EngineError): void {
        this.failure = { settings, error };
        this.setState({ kind: "failed", error });
        this.hooks.reportFailure(error);
    }

    private onProcessExit(error: EngineError): void {
        this.processGpu = undefined;
        this.loaded = undefined;
        const now = this.now();
        this.crashTimes = this.crashTimes.filter((time) => now - time < this.crashWindowMs);
        this.crashTimes.push(now);
        const desired = this.hooks.desired();
        if (desired === undefined) {
            this.setState({ kind: "idle" });
            return;
        }
        // a failed load is not retried by a crash either
        if (this.failure !== undefined && sameSettings(this.failure.settings, desired))
            return;
        // a lost remote engine is its server's to bring back, not a process to restart: told once, retried on request
        if (remoteLoss.has(engineErrorCodeOf(error))) {
            this.fail(desired, error);
            return;
        }
        if (this.crashTimes.length > this.maxCrashes) {
            this.fail(desired, new EngineError(error.code, `${error.message}; it stopped ${this.crashTimes.length} times within ${Math.round(this.crashWindowMs / 1000)} s, so it is not restarted again`));
            return;
        }
        this.setState({ kind: "crashed", error });
        // one message per series of ends: the later ones of the window only count towards giving up
        if (this.crashTimes.length === 1)
            this.hooks.reportCrash(error);
        void this.enqueue();
    }
}
