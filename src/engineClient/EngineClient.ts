import { type ChildProcess, fork } from "node:child_process";
import { EventEmitter } from "node:events";
import { EngineError } from "../engine/protocol/EngineError.js";
import type {
    EngineEvent, EngineMethod, EngineMethods, EngineSettings, EngineToHost, LoadedModels
} from "../engine/protocol/engineProtocol.js";

export interface LivenessOptions {
    /** While requests are in flight and the engine is silent this long, it is pinged (a status request). */
    pingAfterMs: number;
    /** Silent this long with requests in flight: the engine is stuck (stopped, blocked) and is killed. */
    timeoutMs: number;
    /** The bound on starting up: until it says ready the engine imports its native build and cannot answer pings. */
    startTimeoutMs: number;
}

export interface EngineClientOptions {
    /** The engine process entry (dist/engine.mjs). */
    enginePath: string;
    log: (level: "trace" | "debug" | "info" | "warn" | "error", message: string) => void;
    env?: NodeJS.ProcessEnv;
    execArgv?: string[];
    liveness?: LivenessOptions;
}

/** The engine answers status from its message loop at once; a loop silent for half a minute is stuck. */
const defaultLiveness: LivenessOptions = { pingAfterMs: 5000, timeoutMs: 30_000, startTimeoutMs: 120_000 };

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
    /** The process ended without being asked to (code "crashed") or was killed for not answering ("timeout"). */
    exit: [EngineError];
}

interface Running {
    readonly child: ChildProcess;
    readonly ready: Promise<void>;
    /** When the process last sent anything. */
    heardAt: number;
    isReady: boolean;
}

/**
 * The extension host's side of the engine process, and only of the process: spawns it on the first request, sends
 * typed requests, streams their events, cancels, and notices when the process dies or stops answering. It never
 * loads a model on its own: what should be loaded is decided by its owner (EngineController), which hears of every
 * unexpected end through the "exit" event.
 */
export class EngineClient extends EventEmitter<EngineClientEvents> {
    private running: Running | undefined;
    private readonly pending = new Map<number, Pending>();
    private nextId = 1;
    private disposed = false;
    private watchdog: NodeJS.Timeout | undefined;
    private pinging = false;
    private readonly liveness: LivenessOptions;

    constructor(private readonly options: EngineClientOptions) {
        super();
        this.liveness = options.liveness ?? defaultLiveness;
    }

    /** The engine's pid while a process runs (tests stop or kill it on purpose). */
    get pid(): number | undefined {
        return this.running?.child.pid;
    }

    private start(): Running {
        if (this.running !== undefined)
            return this.running;
        const child = fork(this.options.enginePath, [], {
            stdio: ["ignore", "pipe", "pipe", "ipc"],
            env: { ...process.env, ...this.options.env },
            execArgv: this.options.execArgv ?? []
        });
        child.stdout?.on("data", (data: Buffer) => this.options.log("debug", `[engine] ${data.toString().trimEnd()}`));
        child.stderr?.on("data", (data: Buffer) => this.options.log("warn", `[engine] ${data.toString().trimEnd()}`));
        // a failed spawn or a send on a closing channel; the exit that follows (if any) is what ends the process's requests
        child.on("error", (error) => this.options.log("warn", `engine process: ${error.message}`));
        const ready = new Promise<void>((resolve, reject) => {
            child.on("message", (message: EngineToHost) => {
                if (this.running?.child === child)
                    this.running.heardAt = Date.now();
                if (message.type === "ready") {
                    if (this.running?.child === child)
                        this.running.isReady = true;
                    resolve();
                }
                else
                    this.onMessage(message);
            });
            child.once("exit", (code, signal) => {
                const error = new EngineError("crashed", `the engine process stopped (${signal ?? `exit code ${code}`})`);
                reject(error);
                this.onExit(child, error);
            });
        });
        // a failed start also ends in onExit, which rejects every request waiting for it
        ready.catch(() => undefined);
        this.running = { child, ready, heardAt: Date.now(), isReady: false };
        return this.running;
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
        if (this.pending.size === 0)
            this.stopWatchdog();
    }

    /** Forgets the process and fails what was in flight with `error`. */
    private detach(error: EngineError): ChildProcess | undefined {
        const child = this.running?.child;
        this.running = undefined;
        this.stopWatchdog();
        const pending = [...this.pending.values()];
        this.pending.clear();
        for (const request of pending)
            request.reject(error);
        return child;
    }

    private onExit(child: ChildProcess, error: EngineError): void {
        if (this.running?.child !== child)
            return;
        this.detach(error);
        if (this.disposed)
            return;
        this.options.log("error", `${error.message}`);
        this.emit("exit", error);
    }

    private startWatchdog(running: Running): void {
        if (this.watchdog !== undefined)
            return;
        // silence is counted from the first request in flight, not from the last one an idle engine answered
        running.heardAt = Date.now();
        const period = Math.max(10, Math.min(this.liveness.pingAfterMs, this.liveness.timeoutMs) / 2);
        this.watchdog = setInterval(() => this.checkLiveness(), period);
        this.watchdog.unref();
    }

    private stopWatchdog(): void {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
    }

    private checkLiveness(): void {
        const running = this.running;
        if (running === undefined || this.pending.size === 0) {
            this.stopWatchdog();
            return;
        }
        const silentMs = Date.now() - running.heardAt;
        if (silentMs >= (running.isReady ? this.liveness.timeoutMs : this.liveness.startTimeoutMs)) {
            const error = new EngineError("timeout", `the engine process did not answer for ${(silentMs / 1000).toFixed(1)} s; it was stopped`);
            this.detach(error);
            // SIGKILL: a stopped (SIGSTOP) or blocked process does not act on SIGTERM
            running.child.kill("SIGKILL");
            this.options.log("error", error.message);
            this.emit("exit", error);
            return;
        }
        if (running.isReady && silentMs >= this.liveness.pingAfterMs && !this.pinging) {
            this.pinging = true;
            // any answer counts as a sign of life (heardAt); the ping's own outcome does not matter
            void this.request("status", {}).catch(() => undefined).finally(() => {
                this.pinging = false;
            });
        }
    }

    /** Sends a request and resolves with its result; events for it go to onEvent. Starts the process if needed. */
    async request<M extends EngineMethod>(method: M, params: EngineMethods[M][0], options: RequestOptions = {}): Promise<EngineMethods[M][1]> {
        if (this.disposed)
            throw new EngineError("stopped", "the engine client is disposed");
        if (options.signal?.aborted)
            throw new EngineError("aborted", "aborted");
        const running = this.start();
        const id = this.nextId++;
        const result = new Promise<EngineMethods[M][1]>((resolve, reject) => {
            const onAbort = (): void => {
                if (this.pending.has(id) && running.child.connected)
                    running.child.send({ type: "cancel", id });
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
        });
        this.startWatchdog(running);
        // waiting for "ready" is under the same liveness bound: the request is pending already
        void running.ready.then(() => {
            if (this.running === running && this.pending.has(id))
                running.child.send({ type: "request", id, method, params });
        }, () => undefined);
        return result;
    }

    /** A load request with its progress events as fractions (the caller decides what and when to load). */
    load(settings: EngineSettings, onProgress?: (fraction: number) => void): Promise<LoadedModels> {
        return this.request("load", settings, {
            onEvent: (event) => {
                if (event.kind === "progress")
                    onProgress?.(event.fraction);
            }
        });
    }

    /** Ends the engine process on purpose (no "exit" event); requests in flight fail with "stopped". */
    stop(): void {
        const child = this.detach(new EngineError("stopped", "the engine process was restarted"));
        child?.kill("SIGTERM");
        // a stuck process ignores SIGTERM
        if (child !== undefined)
            setTimeout(() => child.kill("SIGKILL"), 3000).unref();
    }

    dispose(): void {
        this.disposed = true;
        const child = this.detach(new EngineError("stopped", "the engine client is disposed"));
        if (child?.connected === true) {
            child.disconnect();
            // the engine exits on disconnect; a hung native call must not outlive the window
            setTimeout(() => child.kill("SIGKILL"), 3000).unref();
        } else {
            child?.kill("SIGKILL");
        }
    }
}
