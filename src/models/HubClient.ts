/**
 * The Hugging Face Hub's HTTP conventions, as huggingface_hub (file_download.py, hf_api.py) uses them:
 * - the file list: GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true → `sha` (the commit) and
 *   `siblings` [{rfilename, size, blobId, lfs?: {sha256, size}}];
 * - a file: GET {endpoint}/{repo}/resolve/{revision}/{path}; large (LFS) files answer with a redirect to a storage
 *   host, and the hub's own response carries X-Linked-Etag (the sha256) and X-Linked-Size; small files answer
 *   directly with ETag (the git blob id).
 * The token goes only to the endpoint's origin: redirects are followed here, not by the HTTP library, so that the
 * Authorization header is dropped for every other host.
 */
import { on } from "node:events";
import { EnvHttpProxyAgent, ProxyAgent, request, type Dispatcher } from "undici";
import { z } from "zod";
import { DownloadError } from "./DownloadError.js";
import { withRetries, type RetryOptions } from "./retryPolicy.js";

export const defaultEndpoint = "https://huggingface.co";

export interface HubClientOptions {
    /** Default: HF_ENDPOINT, else huggingface.co (a mirror or an in-house hub may sit under a path). */
    readonly endpoint?: string;
    /** Default: HF_TOKEN. */
    readonly token?: string;
    /** An HTTPS_PROXY-style URL (http://user:pass@host:port). Default: HTTPS_PROXY / HTTP_PROXY / NO_PROXY. */
    readonly proxy?: string;
    /** With `proxy`: false accepts a proxy's (or, through it, a host's) certificate that does not verify (VS Code's http.proxyStrictSSL). */
    readonly proxyStrictSSL?: boolean;
    /** Where the defaults come from; default process.env. */
    readonly env?: Readonly<Record<string, string | undefined>>;
    readonly retry?: Omit<RetryOptions, "signal">;
}

export interface RepoFile {
    /** The path inside the repository, with `/`. */
    readonly path: string;
    readonly size: number;
    /** LFS files: the sha256 of the content. */
    readonly sha256?: string;
    /** Files in git: the git blob id (sha1 of "blob {size}\0" + content). */
    readonly gitBlobId?: string;
}

export interface RepoSnapshot {
    readonly repo: string;
    readonly revision: string;
    /** The commit the revision pointed at: every file is fetched from it, so all of them belong together. */
    readonly commit: string;
    readonly files: readonly RepoFile[];
}

export interface FileResponse {
    /** The first byte the body starts at (the Range's start on a 206, else 0). */
    readonly start: number;
    /** The whole file's size as the hub reports it (X-Linked-Size, else Content-Length / Content-Range). */
    readonly size: number | undefined;
    /** The hub's identity of the content: X-Linked-Etag, else ETag, without quotes or W/. */
    readonly etag: string | undefined;
    readonly body: AsyncIterable<Uint8Array>;
}

const modelInfoSchema = z.object({
    sha: z.string(),
    siblings: z.array(z.object({
        rfilename: z.string(),
        size: z.number().int().nonnegative().optional(),
        blobId: z.string().optional(),
        lfs: z.object({ sha256: z.string(), size: z.number().int().nonnegative() }).optional(),
    })),
});

const redirectStatuses = new Set([301, 302, 303, 307, 308]);
const maxRedirects = 5;

function header(headers: Dispatcher.ResponseData["headers"], name: string): string | undefined {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
}

function normalizeEtag(etag: string | undefined): string | undefined {
    return etag?.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

function encodePath(filePath: string): string {
    return filePath.split("/").map(encodeURIComponent).join("/");
}

/** The proxy the environment names (HTTPS_PROXY / HTTP_PROXY, either case, with NO_PROXY), if it names one. */
function environmentProxy(env: Readonly<Record<string, string | undefined>>): Dispatcher | undefined {
    const variable = (name: string): string | undefined => env[name] || env[name.toLowerCase()] || undefined;
    const httpsProxy = variable("HTTPS_PROXY");
    const httpProxy = variable("HTTP_PROXY");
    if (httpsProxy === undefined && httpProxy === undefined)
        return undefined;
    const noProxy = variable("NO_PROXY");
    return new EnvHttpProxyAgent({ ...(httpProxy !== undefined ? { httpProxy } : {}), ...(httpsProxy !== undefined ? { httpsProxy } : {}), ...(noProxy !== undefined ? { noProxy } : {}) });
}

export class HubClient {
    readonly endpoint: string;
    private readonly origin: string;
    private readonly token: string | undefined;
    private readonly dispatcher: Dispatcher | undefined;
    /** How transient failures are retried, for the file list and for every file. */
    readonly retry: Omit<RetryOptions, "signal">;

    constructor(options: HubClientOptions = {}) {
        const env = options.env ?? process.env;
        this.endpoint = (options.endpoint ?? (env.HF_ENDPOINT || defaultEndpoint)).replace(/\/+$/, "");
        this.origin = new URL(this.endpoint).origin;
        this.token = options.token ?? (env.HF_TOKEN || undefined);
        const tls = { rejectUnauthorized: options.proxyStrictSSL ?? true };
        this.dispatcher = options.proxy !== undefined ? new ProxyAgent({ uri: options.proxy, requestTls: tls, proxyTls: tls }) : environmentProxy(env);
        this.retry = options.retry ?? {};
    }

    get hasToken(): boolean {
        return this.token !== undefined;
    }

    /** The files of `repo` at `revision`, with sizes and checksums, and the commit they belong to. */
    async listFiles(repo: string, revision: string, signal?: AbortSignal): Promise<RepoSnapshot> {
        const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
        const what = `${repo}@${revision}`;
        const info = await withRetries(async () => {
            const { response } = await this.send(url, { what, signal });
            let json: unknown;
            try {
                json = await response.body.json();
            } catch (error) {
                throw this.failure(error, what, signal);
            }
            const parsed = modelInfoSchema.safeParse(json);
            if (!parsed.success)
                throw new DownloadError("server", `${this.endpoint} answered the file list of ${what} in a form this client does not know`, { status: 200 });
            return parsed.data;
        }, { ...this.retry, signal });
        const files = info.siblings.map((sibling): RepoFile => {
            const size = sibling.lfs?.size ?? sibling.size;
            if (size === undefined)
                throw new DownloadError("server", `${this.endpoint} gave no size for ${sibling.rfilename} in ${what}`, { status: 200 });
            return {
                path: sibling.rfilename,
                size,
                ...(sibling.lfs !== undefined ? { sha256: sibling.lfs.sha256 } : {}),
                ...(sibling.lfs === undefined && sibling.blobId !== undefined ? { gitBlobId: sibling.blobId } : {}),
            };
        });
        return { repo, revision, commit: info.sha, files };
    }

    /** Starts reading `filePath` of the commit from byte `offset` (HTTP Range). One try: the caller resumes. */
    async openFile(repo: string, commit: string, filePath: string, options: { offset: number; signal?: AbortSignal }): Promise<FileResponse> {
        const url = `${this.endpoint}/${repo}/resolve/${encodeURIComponent(commit)}/${encodePath(filePath)}`;
        const headers: Record<string, string> = { "accept-encoding": "identity" };
        if (options.offset > 0)
            headers.range = `bytes=${options.offset}-`;
        const { response, hubHeaders } = await this.send(url, { what: `${repo}/${filePath}`, signal: options.signal, headers });
        const contentRange = /^bytes (\d+)-\d+\/(\d+)$/.exec(header(response.headers, "content-range") ?? "");
        const start = response.statusCode === 206 && contentRange !== null ? Number(contentRange[1]) : 0;
        const linkedSize = header(hubHeaders, "x-linked-size");
        const length = header(response.headers, "content-length");
        const size = linkedSize !== undefined ? Number(linkedSize) : contentRange !== null ? Number(contentRange[2]) : length !== undefined ? start + Number(length) : undefined;
        const etag = normalizeEtag(header(hubHeaders, "x-linked-etag") ?? header(hubHeaders, "etag"));
        const signal = options.signal;
        const body = response.body;
        const failure = (error: unknown): DownloadError => this.failure(error, `${repo}/${filePath}`, signal);
        // Listening from now on (not from the first read) and through events.on keeps every chunk that arrived
        // before a dropped connection's error (a stream's own iterator discards them), so a resume starts after
        // every byte that came. It pauses the body while 16 chunks wait.
        const chunks = on(body, "data", { close: ["end", "close"], highWaterMark: 16 });
        // A connection that dropped before the listener was there emits nothing more.
        const droppedEarly = body.destroyed && !body.readableEnded;
        return {
            start,
            size,
            etag,
            body: (async function* () {
                try {
                    if (droppedEarly)
                        throw body.errored ?? new Error("the connection closed");
                    for await (const [chunk] of chunks)
                        yield chunk as Uint8Array;
                } catch (error) {
                    throw failure(error);
                } finally {
                    body.destroy();
                }
            })(),
        };
    }

    /** Closes the proxy connections this client opened. */
    async close(): Promise<void> {
        await this.dispatcher?.close();
    }

    /** One request, following redirects by hand; returns the final response and the hub's own (first) headers. */
    private async send(url: string, options: { what: string; signal: AbortSignal | undefined; headers?: Record<string, string> }): Promise<{ response: Dispatcher.ResponseData; hubHeaders: Dispatcher.ResponseData["headers"] }> {
        let current = new URL(url);
        let hubHeaders: Dispatcher.ResponseData["headers"] | undefined;
        for (let hop = 0; ; hop++) {
            const headers: Record<string, string> = { "user-agent": "tah-copilot", ...options.headers };
            if (this.token !== undefined && current.origin === this.origin)
                headers.authorization = `Bearer ${this.token}`;
            let response: Dispatcher.ResponseData;
            try {
                response = await request(current, { method: "GET", headers, signal: options.signal, ...(this.dispatcher !== undefined ? { dispatcher: this.dispatcher } : {}) });
            } catch (error) {
                throw this.failure(error, options.what, options.signal);
            }
            hubHeaders ??= response.headers;
            const location = header(response.headers, "location");
            if (redirectStatuses.has(response.statusCode) && location !== undefined) {
                await response.body.dump();
                if (hop >= maxRedirects)
                    throw new DownloadError("server", `${options.what}: more than ${maxRedirects} redirects`, { status: response.statusCode });
                current = new URL(location, current);
                continue;
            }
            if (response.statusCode >= 400) {
                const errorCode = header(response.headers, "x-error-code");
                await response.body.dump();
                throw this.statusError(response.statusCode, errorCode, options.what);
            }
            return { response, hubHeaders };
        }
    }

    private statusError(status: number, hubErrorCode: string | undefined, what: string): DownloadError {
        const options = { status };
        if (hubErrorCode === "GatedRepo" || ((status === 401 || status === 403) && hubErrorCode !== "RepoNotFound"))
            return new DownloadError("unauthorized", this.token === undefined
                ? `${what} needs a Hugging Face token (HTTP ${status}: a gated or private repository): set HF_TOKEN to a token of an account that has access`
                : `${what}: the hub refused the token (HTTP ${status}): check that it is valid and that its account accepted the repository's terms`, options);
        if (status === 404 || hubErrorCode === "RepoNotFound")
            return new DownloadError("notFound", `${what} was not found on ${this.endpoint} (HTTP ${status})${this.token === undefined && status === 401 ? ", or it is private: set HF_TOKEN if it is yours" : ""}`, options);
        if (status >= 500 || status === 429)
            return new DownloadError("server", `${what}: ${this.endpoint} answered HTTP ${status}; try again later`, options);
        return new DownloadError("unsupported", `${what}: ${this.endpoint} refused the request (HTTP ${status})`, options);
    }

    private failure(error: unknown, what: string, signal: AbortSignal | undefined): DownloadError {
        if (error instanceof DownloadError)
            return error;
        if (signal?.aborted)
            return new DownloadError("aborted", "the download was cancelled", { cause: error });
        const code = (error as { code?: unknown }).code;
        const reason = typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
        return new DownloadError("network", `${what}: the connection to the hub failed (${reason})`, { cause: error });
    }
}
