/**
 * A download that cannot go on, with one line that says why and what to do. The codes are the ones a user acts on
 * differently: give a token, fix the name, wait and retry, free disk space; "aborted" is a cancellation, not a
 * failure (named AbortError, as the engine's and the platform's cancellations are).
 */

export type DownloadErrorCode =
    /** 401/403: the repository is gated or private and needs a (valid) token. */
    | "unauthorized"
    /** 404: no such repository, revision or file. */
    | "notFound"
    /** 5xx after the retries. */
    | "server"
    /** The connection failed or dropped, after the retries. */
    | "network"
    /** A file's bytes do not match the checksum the hub reports for it. */
    | "checksum"
    /** Not enough free disk space for the download (and the conversion). */
    | "diskSpace"
    /** The repository is not something this project can run, or the request is ambiguous. */
    | "unsupported"
    | "aborted";

export class DownloadError extends Error {
    constructor(readonly code: DownloadErrorCode, message: string, options?: { cause?: unknown; readonly status?: number }) {
        super(message, options);
        this.name = code === "aborted" ? "AbortError" : "DownloadError";
        this.status = options?.status;
    }

    /** The HTTP status that caused it, where there was one. */
    readonly status: number | undefined;
}

/** Whether trying the same request again may succeed: a 5xx or a dropped connection. */
export function isTransient(error: unknown): boolean {
    if (!(error instanceof DownloadError))
        return false;
    return error.code === "network" || (error.code === "server" && (error.status === undefined || error.status >= 500 || error.status === 429));
}
