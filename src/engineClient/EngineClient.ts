import { type ChildProcess, fork } from "node:child_process";
import { EventEmitter } from "node:events";
import type {
    EngineEvent, EngineMethod, EngineMethods, EngineSettings, EngineToHost, ModelSummary
} from "../engine/protocol/engineProtocol.js";
import { EngineError } from "../engine/protocol/engineError.js";

export { EngineError };

export type EngineState =
    | { kind: "stopped" }
    | { kind: "starting" }
    | { kind: "idle" }
    | { kind: "loading"; fraction: number }
    | { kind: "ready"; model: ModelSummary }
    | { kind: "failed"; error: EngineError }
    | { kind: "crashed"; restarts: number };

export interface EngineClientOptions {
    /** The engine process entry (dist/engine.mjs). */
    enginePath: string;
    log: (level: "trace" | "debug" | "info" | "warn" | "error", message: string) => void;
    env?: NodeJS.ProcessEnv;
    execArgv?: string[];
    /** Restarts allowed within restartWindowMs before the client gives up. */
    maxRestarts?: number;
    restartWindowMs?: number;
}

interface Pending {
    resolve: (value: unknown) => void;
    reject: (error: EngineError) => void;
    onEvent?: (event: EngineEvent) => void;
}

export interface RequestOptions {
    signal?: AbortSignal;
    onEvent?: (event: EngineEvent) => void;
}

interface EngineClientEvents {
    state: [EngineState];
}

/**
 * The extension host's side of the engine process: spawns it, sends typed requests, streams their events,
 * and when the process dies, fails what was in flight, restarts it and loads the last model again.
 */
export class EngineClient extends EventEmitter<EngineClientEvents> {
    private child: ChildProcess | undefined;
    private ready: Promise<void> | undefined;
    private readonly pending = new Map<number, Pending>();
    private nextId = 1;
    private settings: EngineSettings | undefined;
    private restartTimes: number[] = [];
    private disposed = false;
    private currentState: EngineState = { kind: "stopped" };

    constructor(private readonly options: EngineClientOptions) {
        super();
    }

    get state(): EngineState {
        return this.currentState;
    }

    private setState(state: EngineState): void {
        this.currentState = state;
        this.emit("state", state);
    }

    private start(): Promise<void> {
        if (this.ready !== undefined)
            return this.ready;
        this.setState({ kind: "starting" });
        const child = fork(this.options.enginePath, [], {
            stdio: ["ignore", "pipe", "pipe", "ipc"],
            env: { ...process.env, ...this.options.env },
            execArgv: this.options.execArgv ?? []
        });
        this.child = child;
        child.stdout?.on("data", (data: Buffer) => this.options.log("debug", `[engine] ${data.toString().trimEnd()}`));
        child.stderr?.on("data", (data: Buffer) => this.options.log("warn", `[engine] ${data.toString().trimEnd()}`));
        this.ready = new Promise<void>((resolve, reject) => {
            const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null): void =>
                reject(new EngineError("crashed", `the engine process exited before it was ready (${signal ?? `code ${code}`})`));
            child.once("exit", onEarlyExit);
            child.on("message", (message: EngineToHost) => {
                if (message.type === "ready") {
                    child.off("exit", onEarlyExit);
                    child.once("exit", (code, signal) => this.onExit(child, code, signal));
                    this.setState({ kind: "idle" });
                    resolve();
                } else {
                    this.onMessage(message);
                }
            });
        });
        this.ready.catch(() => {
            this.child = undefined;
            this.ready = undefined;
        });
        return this.ready;
    }

    private onMessage(message: Exclude<EngineToHost, { type: "ready" }>): void {
        if (message.type === "log") {
            this.options.log(message.level, message.message);
            return;
        }
        const pending = this.pending.get(message.id);
        if (pending === undefined)
            return;
        if (message.type === "event") {
            pending.onEvent?.(message.event);
            return;
        }
        this.pending.delete(message.id);
        if (message.type === "response")
            pending.resolve(message.result);
        else
            pending.reject(new EngineError(message.error.code, message.error.message));
    }

    private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
        if (this.child !== child)
            return;
        this.child = undefined;
        this.ready = undefined;
        const reason = signal ?? `exit code ${code}`;
        for (const pending of this.pending.values())
            pending.reject(new EngineError("crashed", `the engine process stopped (${reason})`));
        this.pending.clear();
        if (this.disposed)
            return;

        const now = Date.now();
        this.restartTimes = this.restartTimes.filter((time) => now - time < (this.options.restartWindowMs ?? 60_000));
        this.restartTimes.push(now);
        this.options.log("error", `the engine process stopped unexpectedly (${reason}); restarting it`);
        if (this.restartTimes.length > (this.options.maxRestarts ?? 3)) {
            this.setState({ kind: "failed", error: new EngineError("crashed", `the engine process stopped ${this.restartTimes.length} times in a minute; not restarting it`) });
            return;
        }
        this.setState({ kind: "crashed", restarts: this.restartTimes.length });
        const settings = this.settings;
        if (settings !== undefined)
            void this.load(settings).catch((error: unknown) => this.options.log("error", `reloading the model after a restart failed: ${String(error)}`));
        else
            void this.start().catch(() => undefined);
    }

    /** Sends a request and resolves with its result; events for it go to onEvent. */
    async request<M extends EngineMethod>(method: M, params: EngineMethods[M][0], options: RequestOptions = {}): Promise<EngineMethods[M][1]> {
        if (this.disposed)
            throw new EngineError("stopped", "the engine client is disposed");
        if (options.signal?.aborted)
            throw new EngineError("aborted", "aborted");
        await this.start();
        const child = this.child!;
        const id = this.nextId++;
        return new Promise<EngineMethods[M][1]>((resolve, reject) => {
            const onAbort = (): void => {
                if (this.pending.has(id))
                    child.send({ type: "cancel", id });
            };
            options.signal?.addEventListener("abort", onAbort, { once: true });
            const settle = (): void => options.signal?.removeEventListener("abort", onAbort);
            this.pending.set(id, {
                resolve: (value) => {
                    settle();
                    resolve(value as EngineMethods[M][1]);
                },
                reject: (error) => {
                    settle();
                    reject(error);
                },
                ...(options.onEvent !== undefined ? { onEvent: options.onEvent } : {})
            });
            child.send({ type: "request", id, method, params });
        });
    }

    /** Loads a model; the client remembers it and loads it again after a restart. */
    async load(settings: EngineSettings, onProgress?: (fraction: number) => void): Promise<ModelSummary> {
        this.settings = settings;
        this.setState({ kind: "loading", fraction: 0 });
        try {
            const model = await this.request("load", settings, {
                onEvent: (event) => {
                    if (event.kind === "progress") {
                        this.setState({ kind: "loading", fraction: event.fraction });
                        onProgress?.(event.fraction);
                    }
                }
            });
            this.setState({ kind: "ready", model });
            return model;
        } catch (error) {
            const engineError = error instanceof EngineError ? error : new EngineError("internal", String(error));
            if (engineError.code !== "crashed")
                this.setState({ kind: "failed", error: engineError });
            throw engineError;
        }
    }

    /** Stops the engine process (it reloads the model on the next request only if load is called again). */
    async restart(): Promise<void> {
        const child = this.child;
        this.restartTimes = [];
        if (child !== undefined) {
            this.child = undefined;
            this.ready = undefined;
            for (const pending of this.pending.values())
                pending.reject(new EngineError("stopped", "the engine process was restarted"));
            this.pending.clear();
            child.kill();
        }
        if (this.settings !== undefined)
            await this.load(this.settings);
    }

    /** The engine's pid, for tests that kill it on purpose. */
    get pid(): number | undefined {
        return this.child?.pid;
    }

    dispose(): void {
        this.disposed = true;
        const child = this.child;
        this.child = undefined;
        this.ready = undefined;
        for (const pending of this.pending.values())
            pending.reject(new EngineError("stopped", "the engine client is disposed"));
        this.pending.clear();
        if (child !== undefined) {
            child.disconnect();
            // the engine exits on disconnect; a hung native call must not outlive the window
            setTimeout(() => child.kill("SIGKILL"), 3000).unref();
        }
        this.setState({ kind: "stopped" });
    }
}
