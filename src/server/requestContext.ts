import type { ServerResponse } from "node:http";
import type { z } from "zod";
import type { EngineService } from "../engine/service/EngineService.js";
import { invalidRequest } from "./HttpError.js";
import type { ServerMetrics } from "./ServerMetrics.js";

/** The part of the engine service the server drives (an injected stub in tests). */
export type ServeEngine = Pick<EngineService, "complete" | "chat" | "analyze" | "tokenCount" | "status">;

export interface ServeLimits {
    /** The largest request body, in bytes (413 beyond). */
    maxBodyBytes: number;
    /** The most tokens one answer may ask for (400 beyond). */
    maxTokens: number;
    /** The answer's budget when the request names none. */
    defaultMaxTokens: number;
    /** The decoding time budget of one answer, in milliseconds (the answer then ends with finish_reason "length"). */
    maxDecodeMs: number;
    /** Requests that may wait for the engine (429 beyond). */
    queueSize: number;
}

/** Everything a route handler needs for one request. */
export interface RequestContext {
    engine: ServeEngine;
    /** Runs the engine's part of the request in its turn of the server's queue (the client's abort leaves the queue). */
    inTurn: <T>(task: () => Promise<T>) => Promise<T>;
    metrics: ServerMetrics;
    limits: ServeLimits;
    /** The model's id in /v1/models and in every answer. */
    modelName: string;
    body: unknown;
    response: ServerResponse;
    /** Aborts when the client goes away. */
    signal: AbortSignal;
    /** Fields the handler adds to the request's log record. */
    log: Record<string, unknown>;
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
    const parsed = schema.safeParse(body);
    if (!parsed.success)
        throw invalidRequest(parsed.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`).join("; "));
    return parsed.data;
}

export function maxTokensOf(requested: number | null | undefined, limits: ServeLimits, field = "max_tokens"): number {
    if (requested === null || requested === undefined)
        return Math.min(limits.defaultMaxTokens, limits.maxTokens);
    if (requested > limits.maxTokens)
        throw invalidRequest(`${field} is ${requested}; this server allows at most ${limits.maxTokens}`);
    return requested;
}

export function stopList(stop: string | string[] | null | undefined): string[] {
    return stop === null || stop === undefined ? [] : typeof stop === "string" ? [stop] : stop;
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    response.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
    response.end(text);
}

export const unixSeconds = (): number => Math.floor(Date.now() / 1000);
