import { EventEmitter } from "node:events";
import { EngineError, isEngineErrorCode } from "../engine/protocol/EngineError.js";
import type { EngineEvent, EngineMethod, EngineMethods, EngineSettings, LoadedModels } from "../engine/protocol/engineProtocol.js";
import { remoteEngineMethods, remoteEnginePath, remoteHeartbeatMs, type RemoteEngineLine } from "../engine/protocol/remoteEngine.js";
import type { RequestOptions } from "./EngineClient.js";

export interface RemoteTimeouts {
    /** No answer headers within this: the server is unreachable. */
    connectMs: number;
    /** No line within this once the answer began (the server writes a heartbeat every remoteHeartbeatMs): lost. */
    silenceMs: number;
    /** While connected and idle, the server is asked for its status this often (the round trip the status bar shows). */
    pingEveryMs: number;
}

const defaultTimeouts: RemoteTimeouts = { connectMs: 10_000, silenceMs: 4 * remoteHeartbeatMs, pingEveryMs: 15_000 };

export interface RemoteEngineClientOptions {
    /** The server's base URL, e.g. http://gpu-box:8080 (as `tah serve` prints it). */
    url: string;
    /** The bearer token (the server's --api-key), read at each request; undefined: none. */
    token: () => Promise<string | undefined>;
    log: (level: "debug" | "info" | "warn" | "error", message: string) => void;
    timeouts?: Partial<RemoteTimeouts>;
}

interface RemoteEngineClientEvents {
    /** The connection was lost (unreachable, silent, refused the token) after a load had succeeded. */
    exit: [EngineError];
    /** A measured round trip, in milliseconds (each request's time to headers, and each ping). */
    rtt: [number];
}

/** Errors of the connection itself, not answers about the request. */
const connectionLoss = new Set(["unreachable", "unauthorized"]);

/**
 * The longest line a remote engine may send: a whole analysis of the largest text the engine accepts fits with room
 * to spare; a server that sends more without a newline is not a tah serve (and must not fill this process's memory).
 */
export const maxRemoteLineChars = 64 * 1024 * 1024;

/** The most of a refusal's body that is read for its message (tah serve's errors are a few hundred bytes). */
export const maxRefusalChars = 64 * 1024;

/** A body's text up to about `limit` characters; the rest is not read, and the stream is cancelled. */
async function boundedText(response: Response, limit: number): Promise<string> {
    if (response.body === null)
        return "";
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = "";
    try {
        while (text.length < limit) {
            const { done, value } = await reader.read();
            if (done)
                break;
            text += decoder.decode(value, { stream: true });
        }
        return text;
    } catch {
        return text;
    } finally {
        reader.cancel().catch(() => undefined);
    }
}

function parsedJson(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

/** One NDJSON line of the engine route, or a clear error for anything that is not one. */
function parseLine(text: string, url: string): RemoteEngineLine {
    let line: unknown;
    try {
        line = JSON.parse(text);
    } catch {
        throw new EngineError("internal", `${url} sent a line that is not JSON: is it a tah serve?`);
    }
    if (typeof line !== "object" || line === null || !("event" in line || "result" in line || "error" in line || "alive" in line))
        throw new EngineError("internal", `${url} sent a line that is not part of the engine protocol`);
    if ("error" in line && (typeof line.error !== "object" || line.error === null))
        throw new EngineError("internal", `${url} sent an error line without an error`);
    return line as RemoteEngineLine;
}

/**
 * The engine on another machine: a `tah serve` that answers the engine protocol over HTTP (remoteEngine.ts). It
 * stands in for EngineClient (the engine process) so the rest of the extension does not know: the same requests,
 * token events and cancellation (closing the connection). The server serves its own model, so `load` only connects
 * and returns what the server has loaded. Every wait is bounded (connectMs to the answer's headers, silenceMs between
 * lines, a ping while idle); a lost server fails what is in flight at once and is reported once through "exit".
 */
export class RemoteEngineClient extends EventEmitter<RemoteEngineClientEvents> {
    private readonly inFlight = new Set<AbortController>();
    private readonly timeouts: RemoteTimeouts;
    private pinger: NodeJS.Timeout | undefined;
    private connected = false;
    private disposed = false;
    /** The latest round trip, null before the first. */
    rttMs: number | null = null;

    constructor(private readonly options: RemoteEngineClientOptions) {
        super();
        this.timeouts = { ...defaultTimeouts, ...options.timeouts };
    }

    get url(): string {
        return this.options.url;
    }

    /** The host part of the URL, for the status bar. */
    get host(): string {
        return URL.canParse(this.options.url) ? new URL(this.options.url).host : this.options.url;
    }

    /** Connects: the server's own models are what it serves (the settings' model paths are the local engine's). */
    async load(_settings: EngineSettings, onProgress: (fraction: number) => void): Promise<LoadedModels> {
        const url = URL.canParse(this.options.url) ? new URL(this.options.url) : undefined;
        if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:"))
            throw new EngineError("invalidRequest", `tah.engine.url must be an http:// or https:// URL, not "${this.options.url}"`);
        const status = await this.request("status", {});
        if (status.models === null)
            throw new EngineError("noModel", `the server at ${this.options.url} has no model loaded`);
        onProgress(1);
        this.connected = true;
        this.startPinger();
        this.options.log("info", `connected to the engine at ${this.options.url}: ${status.models.chat.name} on ${status.models.chat.backend}`);
        return status.models;
    }

    /** A request, like EngineClient's; only the methods of remoteEngineMethods reach a server. */
    async request<M extends EngineMethod>(method: M, params: EngineMethods[M][0], options: RequestOptions = {}): Promise<EngineMethods[M][1]> {
        if (!(remoteEngineMethods as readonly string[]).includes(method))
            throw new EngineError("invalidRequest", `${method} runs on this machine, not on a remote engine`);
        if (this.disposed)
            throw new EngineError("stopped", "the remote engine client is disposed");
        if (options.signal?.aborted)
            throw new EngineError("aborted", "aborted");
        const controller = new AbortController();
        this.inFlight.add(controller);
        const onAbort = (): void => controller.abort(new EngineError("aborted", "aborted"));
        options.signal?.addEventListener("abort", onAbort, { once: true });
        try {
            return await this.exchange(method, params, controller, options.onEvent) as EngineMethods[M][1];
        } catch (thrown) {
            const error = this.errorOf(thrown, controller);
            if (connectionLoss.has(error.code))
                this.lose(error);
            throw error;
        } finally {
            options.signal?.removeEventListener("abort", onAbort);
            this.inFlight.delete(controller);
        }
    }

    /** What a failed exchange means: the reason its controller was aborted with, else a network failure. */
    private errorOf(thrown: unknown, controller: AbortController): EngineError {
        if (controller.signal.aborted && controller.signal.reason instanceof EngineError)
            return controller.signal.reason;
        if (thrown instanceof EngineError)
            return thrown;
        const cause = thrown instanceof Error && thrown.cause instanceof Error ? `: ${thrown.cause.message}` : thrown instanceof Error ? `: ${thrown.message}` : "";
        return new EngineError("unreachable", `${this.options.url} cannot be reached${cause}`, { cause: thrown });
    }

    private async exchange(method: EngineMethod, params: unknown, controller: AbortController, onEvent: ((event: EngineEvent) => void) | undefined): Promise<unknown> {
        const token = await this.options.token();
        const started = performance.now();
        let timer = setTimeout(() => controller.abort(new EngineError("unreachable", `${this.options.url} did not answer within ${this.timeouts.connectMs / 1000} s`)), this.timeouts.connectMs);
        let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
        try {
            const response = await fetch(new URL(`${remoteEnginePath}${method}`, this.options.url), {
                method: "POST",
                headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
                body: JSON.stringify(params),
                signal: controller.signal
            });
            this.measured(performance.now() - started);
            if (!response.ok)
                throw await this.refusal(response);
            if (response.body === null)
                throw new EngineError("unreachable", `${this.options.url} answered without a body`);
            const silent = (): void => controller.abort(new EngineError("unreachable", `the connection to ${this.options.url} went silent for ${this.timeouts.silenceMs / 1000} s`));
            clearTimeout(timer);
            timer = setTimeout(silent, this.timeouts.silenceMs);
            const decoder = new TextDecoder();
            reader = response.body.getReader();
            // the unfinished line's pieces: only each new piece is searched for the line's end, so a long line costs
            // its length, not its length squared
            let pieces: string[] = [];
            let pending = 0;
            for (;;) {
                const { done, value } = await reader.read();
                if (done)
                    break;
                clearTimeout(timer);
                timer = setTimeout(silent, this.timeouts.silenceMs);
                let text = decoder.decode(value, { stream: true });
                for (let newline = text.indexOf("\n"); newline >= 0; newline = text.indexOf("\n")) {
                    const line = parseLine(pieces.join("") + text.slice(0, newline), this.options.url);
                    pieces = [];
                    pending = 0;
                    text = text.slice(newline + 1);
                    if ("event" in line)
                        onEvent?.(line.event);
                    else if ("result" in line)
                        return line.result;
                    else if ("error" in line)
                        throw new EngineError(isEngineErrorCode(line.error.code) ? line.error.code : "internal", String(line.error.message));
                }
                pieces.push(text);
                pending += text.length;
                if (pending > maxRemoteLineChars)
                    throw new EngineError("internal", `${this.options.url} sent more than ${maxRemoteLineChars / (1024 * 1024)} MiB without ending a line: is it a tah serve?`);
            }
            throw new EngineError("unreachable", `the connection to ${this.options.url} ended before the answer did`);
        } finally {
            clearTimeout(timer);
            // the answer is in, or the exchange failed: what the server still sends is not read but dropped with the
            // connection (a hostile server could otherwise keep it open and writing forever)
            reader?.cancel().catch(() => undefined);
        }
    }

    /** An answer that is not the engine's stream: the server's error body (OpenAI's shape), as an engine error. */
    private async refusal(response: Response): Promise<EngineError> {
        const body = parsedJson(await boundedText(response, maxRefusalChars)) as { error?: { message?: unknown; code?: unknown } } | undefined;
        const message = typeof body?.error?.message === "string" ? body.error.message : `HTTP ${response.status}`;
        if (response.status === 401 || response.status === 403)
            return new EngineError("unauthorized", `${this.options.url}: ${message}`);
        if (response.status === 404)
            return new EngineError("unreachable", `${this.options.url} is not a tah serve that speaks the engine protocol (${message})`);
        const code = body?.error?.code;
        return new EngineError(isEngineErrorCode(code) ? code : response.status === 429 ? "busy" : "internal", message);
    }

    private measured(ms: number): void {
        this.rttMs = ms;
        this.emit("rtt", ms);
    }

    private startPinger(): void {
        if (this.pinger !== undefined)
            return;
        this.pinger = setInterval(() => {
            // requests in flight already watch the connection; a ping is for the idle time between them
            if (this.inFlight.size === 0)
                void this.request("status", {}).catch(() => undefined);
        }, this.timeouts.pingEveryMs);
        this.pinger.unref();
    }

    /** The server is gone: everything in flight fails with the same error, and the owner hears it once. */
    private lose(error: EngineError): void {
        for (const controller of this.inFlight)
            controller.abort(error);
        if (!this.connected || this.disposed)
            return;
        this.connected = false;
        clearInterval(this.pinger);
        this.pinger = undefined;
        this.options.log("error", error.message);
        this.emit("exit", error);
    }

    /** Drops the connection on purpose (no "exit" event); requests in flight fail with "stopped". */
    stop(): void {
        this.connected = false;
        clearInterval(this.pinger);
        this.pinger = undefined;
        for (const controller of this.inFlight)
            controller.abort(new EngineError("stopped", "the connection to the remote engine was restarted"));
    }

    dispose(): void {
        this.stop();
        this.disposed = true;
    }
}
