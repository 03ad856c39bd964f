import type { IncomingMessage } from "node:http";
import { HttpError, invalidRequest } from "./HttpError.js";

/**
 * Reads a JSON request body of at most maxBytes (413 beyond, before reading more than that). The JSON content type is
 * required: a web page can send one cross-origin only after a CORS preflight, which this server never grants.
 */
export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
    if (!/^application\/json\b/i.test(request.headers["content-type"] ?? ""))
        throw new HttpError(415, "invalid_request_error", "unsupportedMediaType", "the request body must be JSON (Content-Type: application/json)");
    const tooLarge = (): HttpError => new HttpError(413, "invalid_request_error", "requestTooLarge", `the request body exceeds ${maxBytes} bytes`);
    if (Number(request.headers["content-length"] ?? 0) > maxBytes)
        throw tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes)
            throw tooLarge();
        chunks.push(chunk);
    }
    if (size === 0)
        throw invalidRequest("the request needs a JSON body");
    try {
        return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    } catch {
        throw invalidRequest("the request body is not valid JSON");
    }
}
