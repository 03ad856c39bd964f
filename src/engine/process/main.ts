/**
 * The engine process: a Node child of the extension host, so that a native crash can never take the extension
 * host down. It answers typed requests (protocol/engineProtocol.ts) over the IPC channel of child_process.fork.
 */
import { toEngineError } from "../protocol/EngineError.js";
import type { EngineEvent, EngineMethod, EngineMethods, EngineToHost } from "../protocol/engineProtocol.js";
import { EngineService } from "../service/EngineService.js";
import { hostMessageSchema, isEngineMethod, paramSchemas } from "./requestSchemas.js";

function send(message: EngineToHost): void {
    process.send?.(message);
}

const service = new EngineService((level, message) => send({ type: "log", level, message }));
const active = new Map<number, AbortController>();

const noToken = (): void => undefined;

type Handler<M extends EngineMethod> = (params: EngineMethods[M][0], emit: (event: EngineEvent) => void, signal: AbortSignal) => Promise<EngineMethods[M][1]>;

const handlers: { [M in EngineMethod]: Handler<M> } = {
    load: async (params, emit, signal) => {
        // a new model replaces everything in flight
        for (const controller of active.values())
            if (controller.signal !== signal)
                controller.abort();
        return service.load(params, (fraction, stage) => emit({ kind: "progress", fraction, stage }), signal);
    },
    complete: (params, emit, signal) => service.complete(params, params.stream ? (token) => emit({ kind: "token", token }) : noToken, signal),
    chat: (params, emit, signal) => service.chat(params, params.stream ? (token) => emit({ kind: "token", token }) : noToken, signal),
    analyze: (params, _emit, signal) => service.analyze(params, signal),
    convert: (params, emit, signal) => service.convert(params, (fraction, stage) => emit({ kind: "progress", fraction, stage }), signal),
    status: () => Promise.resolve(service.status()),
    tokenCount: (params) => Promise.resolve(service.tokenCount(params))
};

async function handleRequest(id: number, method: string, rawParams: unknown): Promise<void> {
    if (!isEngineMethod(method)) {
        send({ type: "error", id, error: { code: "invalidRequest", message: `unknown method "${method.slice(0, 64)}"` } });
        return;
    }
    const parsed = paramSchemas[method].safeParse(rawParams);
    if (!parsed.success) {
        send({ type: "error", id, error: { code: "invalidRequest", message: `invalid ${method} request: ${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}` } });
        return;
    }
    const controller = new AbortController();
    active.set(id, controller);
    try {
        const handler = handlers[method] as Handler<EngineMethod>;
        const result = await handler(parsed.data as never, (event) => send({ type: "event", id, event }), controller.signal);
        send({ type: "response", id, result });
    } catch (error) {
        const engineError = toEngineError(error);
        // a bug: the stack goes to the log, the user reads one line
        if (engineError.code === "internal")
            send({ type: "log", level: "error", message: `${method} failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}` });
        send({ type: "error", id, error: { code: engineError.code, message: engineError.message.split("\n", 1)[0] } });
    } finally {
        active.delete(id);
    }
}

process.on("message", (raw: unknown) => {
    const message = hostMessageSchema.safeParse(raw);
    if (!message.success) {
        send({ type: "log", level: "warn", message: "ignored a malformed message from the host" });
        return;
    }
    if (message.data.type === "cancel") {
        active.get(message.data.id)?.abort();
        return;
    }
    void handleRequest(message.data.id, message.data.method, message.data.params);
});

async function shutdown(code: number): Promise<never> {
    for (const controller of active.values())
        controller.abort();
    try {
        await service.dispose();
    } finally {
        process.exit(code);
    }
}

process.on("disconnect", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

send({ type: "ready", pid: process.pid });
