import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { remoteEngineMethods, remoteEnginePath } from "../engine/protocol/remoteEngine.js";
import { checkBearer, checkLoopbackHostHeader, isLoopbackHost } from "./auth.js";
import { chatCompletions } from "./chatCompletions.js";
import { completions } from "./completions.js";
import { engineRoute } from "./engineRoute.js";
import { HttpError, toHttpError } from "./HttpError.js";
import { infill } from "./infill.js";
import { ServerMetrics } from "./ServerMetrics.js";
import { readJsonBody } from "./readJsonBody.js";
import { sendJson, unixSeconds, type RequestContext, type ServeEngine, type ServeLimits } from "./requestContext.js";
import type { LogSink } from "./requestLog.js";
import { RequestQueue } from "./RequestQueue.js";

export interface ServeOptions {
    host: string;
    /** 0: an ephemeral port (tests). */
    port: number;
    /** Every request but /health then needs `Authorization: Bearer KEY`; required beyond loopback. */
    apiKey?: string;
    modelName: string;
    limits: ServeLimits;
    /** Requests answered at once, each on a sequence of its own (the engine's `parallel`); absent = 1. */
    parallel?: number;
    log: LogSink;
}

export interface RunningServer {
    url: string;
    metrics: ServerMetrics;
    close(): Promise<void>;
}

interface Route {
    method: "GET" | "POST";
    /** /health answers without the API key: load balancers and probes have none. */
    public?: boolean;
    handler: (context: RequestContext) => Promise<void> | void;
}

function models(context: RequestContext): void {
    const model = context.engine.status().models?.chat ?? null;
    sendJson(context.response, 200, {
        object: "list",
        data: model === null ? [] : [{
            id: context.modelName,
            object: "model",
            created: unixSeconds(),
            owned_by: "tah-copilot",
            meta: { kind: model.kind, context_size: model.contextSize, backend: model.backend, threshold: model.threshold, has_fim: model.hasFim }
        }]
    });
}

function health(context: RequestContext): void {
    if (context.engine.status().models === null)
        throw new HttpError(503, "server_error", "noModel", "no model is loaded");
    sendJson(context.response, 200, { status: "ok" });
}

async function metrics(context: RequestContext): Promise<void> {
    const text = await context.metrics.registry.metrics();
    context.response.writeHead(200, { "content-type": context.metrics.registry.contentType });
    context.response.end(text);
}

/** OpenAI's paths, also without the /v1 prefix as llama-server takes them, and llama-server's own. */
const routes: Record<string, Route> = {
    "/health": { method: "GET", public: true, handler: health },
    "/v1/models": { method: "GET", handler: models },
    "/models": { method: "GET", handler: models },
    "/v1/chat/completions": { method: "POST", handler: chatCompletions },
    "/chat/completions": { method: "POST", handler: chatCompletions },
    "/v1/completions": { method: "POST", handler: completions },
    "/completions": { method: "POST", handler: completions },
    "/infill": { method: "POST", handler: infill },
    "/metrics": { method: "GET", handler: metrics },
    ...Object.fromEntries(remoteEngineMethods.map((method) => [`${remoteEnginePath}${method}`, { method: "POST", handler: engineRoute(method) } satisfies Route]))
};

/** An error after a stream began: one `data: {error}` event (what OpenAI's clients raise), then the end. */
function answerError(response: ServerResponse, error: HttpError): void {
    if (response.writableEnded || response.destroyed)
        return;
    if (!response.headersSent) {
        if (error.status === 413)
            response.setHeader("connection", "close");
        // OpenAI's clients wait this long before their retry of a 429
        if (error.code === "busy")
            response.setHeader("retry-after", "1");
        sendJson(response, error.status, error.body());
        return;
    }
    if (String(response.getHeader("content-type")).startsWith("text/event-stream"))
        response.write(`data: ${JSON.stringify(error.body())}\n\n`);
    response.end();
}

/**
 * `tah serve`'s HTTP server: OpenAI's API and llama-server's /infill on one engine. Requests for the engine go through
 * one bounded first-in first-out queue and run `parallel` at a time, each on a sequence of its own, so an answer is
 * what the same request gets alone.
 */
export async function startServer(engine: ServeEngine, options: ServeOptions): Promise<RunningServer> {
    if (!isLoopbackHost(options.host) && (options.apiKey === undefined || options.apiKey === ""))
        throw new Error(`refusing to listen on ${options.host} without an API key: beyond loopback every request must carry one (--api-key)`);
    const queue = new RequestQueue(options.parallel ?? 1, options.limits.queueSize);
    const serverMetrics = new ServerMetrics(queue);
    let nextId = 1;

    const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
        const started = performance.now();
        const id = `req-${nextId++}`;
        const path = new URL(request.url ?? "/", "http://localhost").pathname;
        const route = routes[path] as Route | undefined;
        const controller = new AbortController();
        response.on("close", () => {
            if (!response.writableFinished)
                controller.abort();
        });
        const log: Record<string, unknown> = {};
        let status = 200;
        try {
            if (route === undefined)
                throw new HttpError(404, "not_found_error", "notFound", `no route ${path}`);
            if (request.method !== route.method)
                throw new HttpError(405, "invalid_request_error", "methodNotAllowed", `${path} takes ${route.method}`);
            checkLoopbackHostHeader(request, options.apiKey);
            if (route.public !== true)
                checkBearer(request, options.apiKey);
            const body = route.method === "POST" ? await readJsonBody(request, options.limits.maxBodyBytes) : undefined;
            const inTurn = async <T>(task: () => Promise<T>): Promise<T> => {
                const queued = performance.now();
                return queue.run(() => {
                    log.queue_ms = Math.round(performance.now() - queued);
                    return task();
                }, controller.signal);
            };
            await route.handler({ engine, inTurn, metrics: serverMetrics, limits: options.limits, modelName: options.modelName, body, response, signal: controller.signal, log });
        } catch (caught) {
            const error = toHttpError(caught);
            status = error.status;
            if (error.code === "busy")
                serverMetrics.queueRejections.inc();
            if (error.code === "aborted" && controller.signal.aborted)
                serverMetrics.cancellations.inc();
            log.error = { code: error.code, message: error.code === "internal" && caught instanceof Error ? caught.message : error.message };
            answerError(response, error);
        } finally {
            const routeName = route === undefined ? "unknown" : path;
            const seconds = (performance.now() - started) / 1000;
            serverMetrics.requests.inc({ route: routeName, status: String(status) });
            serverMetrics.duration.observe({ route: routeName }, seconds);
            options.log({ level: status >= 500 ? "error" : status >= 400 ? "warn" : "info", msg: "request", id, method: request.method, path, status, ms: Math.round(seconds * 1000), client: request.socket.remoteAddress, ...log });
        }
    };

    const server = http.createServer((request, response) => void handle(request, response));
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port, options.host, () => {
            server.off("error", reject);
            resolve();
        });
    });
    const address = server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return {
        url: `http://${host}:${address.port}`,
        metrics: serverMetrics,
        close: () => new Promise<void>((resolve, reject) => {
            server.close((error) => (error === undefined ? resolve() : reject(error)));
            server.closeAllConnections();
        })
    };
}
