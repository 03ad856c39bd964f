import { EventEmitter } from "node:events";
import type { EngineError } from "../engine/protocol/EngineError.js";
import type { EngineMethod, EngineMethods, EngineSettings, LoadedModels } from "../engine/protocol/engineProtocol.js";
import { remoteEngineMethods, type RemoteEngineMethod } from "../engine/protocol/remoteEngine.js";
import type { EngineClient, RequestOptions } from "../engineClient/EngineClient.js";
import type { RemoteEngineClient } from "../engineClient/RemoteEngineClient.js";
import type { EngineProcess } from "./EngineController.js";

/** Where the engine runs, as the status bar shows it. */
export type EngineLocation = { kind: "local" } | { kind: "remote"; url: string; host: string; rttMs: number | null };

interface EngineConnectionEvents {
    exit: [EngineError];
    /** The remote's round trip was measured again. */
    rtt: [number];
}

/** The settings the controller compares for a remote engine: only its URL matters (the server has its own model). */
export function remoteEngineSettings(url: string): EngineSettings {
    return { modelPath: url, completionModelPath: null, gpu: "auto", threads: 0, contextSize: 0, threshold: null };
}

function isRemoteMethod(method: EngineMethod): method is RemoteEngineMethod {
    return (remoteEngineMethods as readonly string[]).includes(method);
}

/**
 * The engine the extension talks to: the local engine process, or a remote `tah serve` while tah.engine.url is
 * set. One EngineProcess for the controller and one request surface for the host, so nothing else knows which.
 * Conversion always runs locally (it reads and writes this machine's files).
 */
export class EngineConnection extends EventEmitter<EngineConnectionEvents> implements EngineProcess {
    private remote: RemoteEngineClient | undefined;

    constructor(private readonly local: EngineClient, private readonly makeRemote: (url: string) => RemoteEngineClient) {
        super();
        local.on("exit", (error) => {
            if (this.remote === undefined)
                this.emit("exit", error);
        });
    }

    get location(): EngineLocation {
        const remote = this.remote;
        return remote === undefined ? { kind: "local" } : { kind: "remote", url: remote.url, host: remote.host, rttMs: remote.rttMs };
    }

    /** Switches to the remote at `url` (undefined: the local process); the other side is stopped. */
    configure(url: string | undefined): void {
        if (url === this.remote?.url)
            return;
        this.remote?.dispose();
        this.remote = undefined;
        // a local process holding a model is of no use while a remote serves
        this.local.stop();
        if (url === undefined)
            return;
        const remote = this.makeRemote(url);
        remote.on("exit", (error) => {
            if (this.remote === remote)
                this.emit("exit", error);
        });
        remote.on("rtt", (ms) => {
            if (this.remote === remote)
                this.emit("rtt", ms);
        });
        this.remote = remote;
    }

    load(settings: EngineSettings, onProgress: (fraction: number) => void): Promise<LoadedModels> {
        return (this.remote ?? this.local).load(settings, onProgress);
    }

    request<M extends EngineMethod>(method: M, params: EngineMethods[M][0], options: RequestOptions = {}): Promise<EngineMethods[M][1]> {
        if (this.remote !== undefined && isRemoteMethod(method))
            return this.remote.request(method, params, options);
        return this.local.request(method, params, options);
    }

    stop(): void {
        this.remote?.stop();
        this.local.stop();
    }

    dispose(): void {
        this.remote?.dispose();
        this.local.dispose();
    }
}
