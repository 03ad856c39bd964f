import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { HttpError } from "./HttpError.js";

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

/** A Host header naming this machine: localhost, 127.x.x.x or [::1], with or without a port. */
function isLoopbackHostHeader(host: string | undefined): boolean {
    if (host === undefined)
        return false;
    const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
    return isLoopbackHost(name);
}

/**
 * Against DNS rebinding: without an API key, a request whose Host is not this machine's name comes from a web page
 * that had a name of its own resolve to 127.0.0.1, and is refused.
 */
export function checkLoopbackHostHeader(request: IncomingMessage, apiKey: string | undefined): void {
    if (apiKey === undefined && !isLoopbackHostHeader(request.headers.host))
        throw new HttpError(403, "authentication_error", "forbiddenHost", "without an API key this server answers only requests addressed to localhost");
}
