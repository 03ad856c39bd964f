// The real EngineClient on the fake engine process, and an EngineController over it with recording hooks.
import path from "node:path";
import type { EngineError } from "../../../src/engine/protocol/EngineError.js";
import type { EngineSettings } from "../../../src/engine/protocol/engineProtocol.js";
import { EngineClient, type LivenessOptions } from "../../../src/engineClient/EngineClient.js";
import { EngineController, type EngineControllerOptions, type EngineState } from "../../../src/engineHost/EngineController.js";

const fakeEngine = path.join(import.meta.dirname, "fakeEngineProcess.ts");

export const cpuSettings: EngineSettings = { modelPath: "/models/a", completionModelPath: null, gpu: "cpu", threads: 1, contextSize: 1024, threshold: null };

export interface FakeClient {
    readonly client: EngineClient;
    /** Every log line of the client and the engine, in order. */
    readonly lines: string[];
    /** The load requests the engine received. */
    readonly loads: () => string[];
    /** The pings (status requests) the engine received. */
    readonly pings: () => number;
}

export function fakeClient(env: Record<string, string> = {}, liveness?: LivenessOptions): FakeClient {
    const lines: string[] = [];
    const client = new EngineClient({
        enginePath: fakeEngine, execArgv: ["--import", "tsx"], env, log: (_level, message) => lines.push(message),
        ...(liveness !== undefined ? { liveness } : {})
    });
    return {
        client, lines,
        loads: () => lines.filter((line) => line.startsWith("fake: load")),
        pings: () => lines.filter((line) => line.startsWith("fake: status")).length
    };
}

export interface FakeHost extends FakeClient {
    readonly controller: EngineController;
    readonly failures: EngineError[];
    readonly crashes: EngineError[];
    readonly states: EngineState[];
    /** What the settings say (undefined: no model). */
    settings: EngineSettings | undefined;
    /** Resolves at the first state (from now on, or the current one) that satisfies `test`. */
    until(test: (state: EngineState) => boolean): Promise<EngineState>;
    dispose(): void;
}

export function fakeHost(options: { env?: Record<string, string>; liveness?: LivenessOptions; controller?: EngineControllerOptions } = {}): FakeHost {
    const base = fakeClient(options.env, options.liveness);
    const waiters: Array<{ test: (state: EngineState) => boolean; resolve: (state: EngineState) => void }> = [];
    const host: Omit<FakeHost, "controller"> & { controller?: EngineController } = {
        ...base,
        failures: [], crashes: [], states: [],
        settings: cpuSettings,
        until: (test) => {
            const state = host.controller?.state;
            if (state !== undefined && test(state))
                return Promise.resolve(state);
            return new Promise((resolve) => waiters.push({ test, resolve }));
        },
        dispose: () => {
            host.controller?.dispose();
            base.client.dispose();
        }
    };
    host.controller = new EngineController(base.client, {
        desired: () => host.settings,
        withLoadProgress: (_settings, task) => task(() => undefined),
        reportFailure: (error) => host.failures.push(error),
        reportCrash: (error) => host.crashes.push(error),
        stateChanged: (state) => {
            host.states.push(state);
            for (const waiter of waiters.splice(0))
                if (waiter.test(state))
                    waiter.resolve(state);
                else
                    waiters.push(waiter);
        }
    }, { settleMs: 0, ...options.controller });
    return host as FakeHost;
}

/** Runs `body` with a fake host, disposed afterwards whatever happens. */
export async function withFakeHost(options: Parameters<typeof fakeHost>[0], body: (host: FakeHost) => Promise<void>): Promise<void> {
    const host = fakeHost(options);
    try {
        await body(host);
    } finally {
        host.dispose();
    }
}

/** Runs `body` with a fake client, disposed afterwards whatever happens. */
export async function withFakeClient(env: Record<string, string>, liveness: LivenessOptions, body: (fake: FakeClient) => Promise<void>): Promise<void> {
    const fake = fakeClient(env, liveness);
    try {
        await body(fake);
    } finally {
        fake.client.dispose();
    }
}
