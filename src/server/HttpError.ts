import { engineErrorCodeOf, type EngineErrorCode } from "../engine/protocol/EngineError.js";

/** OpenAI's error types; clients branch on them (and on the status). */
export type OpenAiErrorType = "invalid_request_error" | "authentication_error" | "not_found_error" | "rate_limit_error" | "server_error";

/** An error the server answers with: an HTTP status and OpenAI's `{error: {message, type, code}}` body. */
export class HttpError extends Error {
    constructor(readonly status: number, readonly type: OpenAiErrorType, readonly code: string, message: string) {
        super(message);
        this.name = "HttpError";
    }

    body(): { error: { message: string; type: OpenAiErrorType; code: string } } {
        return { error: { message: this.message, type: this.type, code: this.code } };
    }
}

/** The HTTP status and error type of each engine error code: one table, so every route answers alike. */
const engineStatus: Record<EngineErrorCode, { status: number; type: OpenAiErrorType }> = {
    modelFile: { status: 500, type: "server_error" },
    unsupportedModel: { status: 500, type: "server_error" },
    nativeBuild: { status: 500, type: "server_error" },
    unsupportedCpu: { status: 500, type: "server_error" },
    gpuUnavailable: { status: 500, type: "server_error" },
    noModel: { status: 503, type: "server_error" },
    // the client went away or gave up; nginx's 499 is what proxies log for it
    aborted: { status: 499, type: "invalid_request_error" },
    contextFull: { status: 400, type: "invalid_request_error" },
    invalidRequest: { status: 400, type: "invalid_request_error" },
    busy: { status: 429, type: "rate_limit_error" },
    timeout: { status: 504, type: "server_error" },
    crashed: { status: 503, type: "server_error" },
    stopped: { status: 503, type: "server_error" },
    // the server's own errors are never these (they are a remote client's view of a server); listed for completeness
    unreachable: { status: 502, type: "server_error" },
    unauthorized: { status: 401, type: "authentication_error" },
    internal: { status: 500, type: "server_error" }
};

/** An HttpError for anything thrown while serving a request; engine errors keep their code. */
export function toHttpError(error: unknown): HttpError {
    if (error instanceof HttpError)
        return error;
    const code = engineErrorCodeOf(error);
    const { status, type } = engineStatus[code];
    const message = code === "internal" ? "internal server error" : error instanceof Error ? error.message : String(error);
    return new HttpError(status, type, code, message);
}

export function invalidRequest(message: string): HttpError {
    return new HttpError(400, "invalid_request_error", "invalidRequest", message);
}
