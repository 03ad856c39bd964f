import { paramSchemas } from "../engine/process/requestSchemas.js";
import { toEngineError } from "../engine/protocol/EngineError.js";
import type { EngineEvent, EngineMethods } from "../engine/protocol/engineProtocol.js";
import { remoteHeartbeatMs, type RemoteEngineLine, type RemoteEngineMethod } from "../engine/protocol/remoteEngine.js";
import { invalidRequest } from "./HttpError.js";
import type { RequestContext, ServeEngine } from "./requestContext.js";

type Handler<M extends RemoteEngineMethod> = (engine: ServeEngine, params: EngineMethods[M][0], emit: (event: EngineEvent) => void, signal: AbortSignal) => Promise<EngineMethods[M][1]>;

const noToken = (): void => undefined;

/** Each method as the engine process answers it over IPC (src/engine/process/main.ts), on the server's engine. */
const handlers: { [M in RemoteEngineMethod]: Handler<M> } = {
    complete: (engine, params, emit, signal) => engine.complete(params, params.stream ? (token) => emit({ kind: "token", token }) : noToken, signal),
    chat: (engine, params, emit, signal) => engine.chat(params, params.stream ? (token) => emit({ kind: "token", token }) : noToken, signal),
    analyze: (engine, params, _emit, signal) => engine.analyze(params, signal),
    tokenCount: (engine, params) => Promise.resolve(engine.tokenCount(params)),
    status: (engine) => Promise.resolve(engine.status())
};

/**
 * POST /tah/engine/<method>: the engine protocol for a remote extension (src/engine/protocol/remoteEngine.ts). The
 * calls go to the engine directly, not through the OpenAI routes' queue: the engine serializes each of its sequences
 * itself, and ghost text must not wait behind a whole chat answer. Errors the engine reports go in the stream as an
 * `error` line with the engine's code; a client that closes the connection aborts the call.
 */
export function engineRoute(method: RemoteEngineMethod): (context: RequestContext) => Promise<void> {
    return async (context) => {
        const parsed = paramSchemas[method].safeParse(context.body);
        if (!parsed.success)
            throw invalidRequest(`invalid ${method} request: ${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`);
        const response = context.response;
        response.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store", "x-accel-buffering": "no" });
        // a line written after the client went away is dropped: the socket is already closed
        const write = (line: RemoteEngineLine): void => {
            if (!response.destroyed)
                response.write(`${JSON.stringify(line)}\n`);
        };
        let written = Date.now();
        const heartbeat = setInterval(() => {
            if (Date.now() - written >= remoteHeartbeatMs / 2)
                write({ alive: true });
        }, remoteHeartbeatMs / 2);
        Object.assign(context.log, { engine_method: method });
        try {
            const handler = handlers[method] as Handler<RemoteEngineMethod>;
            const result = await handler(context.engine, parsed.data as never, (event) => {
                written = Date.now();
                write({ event });
            }, context.signal);
            write({ result });
        } catch (caught) {
            // the client's own abort is counted by the server as a cancellation
            if (context.signal.aborted)
                throw caught;
            const error = toEngineError(caught);
            context.log.error = { code: error.code, message: error.message };
            write({ error: { code: error.code, message: error.code === "internal" ? "the engine failed (see the server's log)" : error.message.split("\n", 1)[0] } });
        } finally {
            clearInterval(heartbeat);
            response.end();
        }
    };
}
