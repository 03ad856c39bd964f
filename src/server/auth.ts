import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { HttpError } from "./httpError.js";

/** Whether a listen address reaches only this machine: anything else needs an API key. */
export function isLoopbackHost(host: string): boolean {
    if (host === "localhost")
        return true;
    if (isIP(host) === 4)
        return host.startsWith("127.");
    return host === "::1";
}

const digest = (text: string): Buffer => createHash("sha256").update(text).digest();

/**
 * Checks `Authorization: Bearer KEY` when the server has a key. Hashes first so the comparison takes the same time
 * whatever the length of the guess.
 */
export function checkBearer(request: IncomingMessage, apiKey: string | undefined): void {
    if (apiKey === undefined)
        return;
    const header = request.headers.authorization ?? "";
    const match = /^Bearer (.+)$/i.exec(header);
    if (match === null || !timingSafeEqual(digest(match[1]), digest(apiKey)))
        throw new HttpError(401, "authentication_error", "invalid_api_key", "a valid API key is required: Authorization: Bearer <key>");
}
