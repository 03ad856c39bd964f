/**
 * The one error type of the engine, on both sides of the protocol. Code is set where the condition is known
 * (the loader, the converter, the scheduler, the addon, the client), never inferred later from a message or a class.
 * The host maps each code to what the user reads and can do (one table, in the extension host).
 */

export const engineErrorCodes = [
    /** A model file or checkpoint is missing, unreadable, corrupt or out of bounds. */
    "modelFile",
    /** The model is valid but not something this engine can run (architecture, TaH generation, options). */
    "unsupportedModel",
    /** The patched native build is missing, of another build id, or its libraries cannot be loaded. */
    "nativeBuild",
    /** This CPU lacks the instructions every shipped CPU variant needs. */
    "unsupportedCpu",
    /** A GPU backend was asked for and cannot start (no loader, no device, driver error). */
    "gpuUnavailable",
    /** A request needs a loaded model and none is. */
    "noModel",
    /** The caller cancelled (a keystroke, Stop, a cancelled conversion). Not a failure. */
    "aborted",
    /** The prompt and answer do not fit the context. */
    "contextFull",
    /** The request is malformed or out of the protocol's bounds. */
    "invalidRequest",
    /** Too many requests are waiting; try again later. */
    "busy",
    /** The engine did not answer within the request's liveness bound. */
    "timeout",
    /** The engine process died. */
    "crashed",
    /** The engine process was stopped or restarted on purpose (dispose, restart). */
    "stopped",
    /** A remote engine (tah.engine.url) cannot be reached, stopped answering, or the connection to it was lost. */
    "unreachable",
    /** A remote engine refused this client's token. */
    "unauthorized",
    /** Anything else: a bug. */
    "internal"
] as const;

export type EngineErrorCode = (typeof engineErrorCodes)[number];

export interface EngineErrorInfo {
    code: EngineErrorCode;
    message: string;
}

export class EngineError extends Error {
    constructor(readonly code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
        super(message, options);
        // AbortError is the name DOM and Node APIs give a cancellation; callers that only know that name still see it
        this.name = code === "aborted" ? "AbortError" : "EngineError";
    }

    get info(): EngineErrorInfo {
        return { code: this.code, message: this.message };
    }
}

export function isEngineErrorCode(value: unknown): value is EngineErrorCode {
    return typeof value === "string" && (engineErrorCodes as readonly string[]).includes(value);
}

/**
 * The code of any thrown value: an EngineError's own, a code property set by the native addon or by another
 * bundle's EngineError (duck-typed on purpose: a test's fake engine may come from another bundle), "aborted" for a
 * platform AbortError, else "internal".
 */
export function engineErrorCodeOf(error: unknown): EngineErrorCode {
    if (error instanceof EngineError)
        return error.code;
    if (typeof error === "object" && error !== null) {
        const code = (error as { code?: unknown }).code;
        if (isEngineErrorCode(code))
            return code;
        if ((error as { name?: unknown }).name === "AbortError")
            return "aborted";
    }
    return "internal";
}

/** An EngineError for any thrown value, keeping the original as its cause. */
export function toEngineError(error: unknown): EngineError {
    if (error instanceof EngineError)
        return error;
    const message = error instanceof Error ? error.message : String(error);
    return new EngineError(engineErrorCodeOf(error), message, { cause: error });
}
