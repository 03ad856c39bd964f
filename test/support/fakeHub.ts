/**
 * A Hugging Face Hub on loopback for download tests, in the hub's layout and headers: the model API
 * (/api/models/{repo}/revision/{rev}?blobs=true → sha, siblings with size, blobId, lfs.sha256), and
 * /{repo}/resolve/{rev}/{path}: small files answered directly with ETag (the git blob id), LFS files (.safetensors,
 * .bin, .gguf, as the hub's .gitattributes has it) redirected to a storage server on a second loopback address with
 * X-Linked-Etag (the sha256) and X-Linked-Size, as the real hub redirects to its file storage. The storage server
 * honours Range. Faults: a dropped connection or a stall after N bytes, corrupted bytes, a status for N requests, a
 * gated repository, a server that ignores Range. Every request is recorded, with its host and headers.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

export interface FakeHubRepo {
    /** Path in the repository → content. */
    readonly files: ReadonlyMap<string, Uint8Array>;
    readonly commit: string;
}

export interface FakeHubFaults {
    /** Close the connection after `afterBytes` bytes of this file's body, for the next `times` requests. */
    drop?: { path: string; afterBytes: number; times: number };
    /** Send `afterBytes` bytes of this file, then nothing until the client goes away. */
    stall?: { path: string; afterBytes: number };
    /** Serve this file with a byte changed (the listing keeps the true checksum). */
    corrupt?: string;
    /** Answer the next `times` hub requests (for `path` only, if given) with this status. */
    status?: { code: number; times: number; path?: string };
    /** A gated repository: hub requests need `Authorization: Bearer <token>`. */
    requiredToken?: string;
    /** Answer Range requests with the whole file (200). */
    ignoreRange?: boolean;
    /** Send this file's X-Linked-Etag / ETag as another value, as a hub whose file changed after the listing. */
    otherEtag?: string;
    /** Pause this long after every 4 KiB of a body: a slow line, so that a UI shows the download's progress. */
    chunkDelayMs?: number;
}

export interface RecordedRequest {
    readonly server: "hub" | "storage";
    readonly url: string;
    readonly headers: http.IncomingHttpHeaders;
}

export interface FakeHub {
    /** http://127.0.0.1:port: what HF_ENDPOINT would be. */
    readonly endpoint: string;
    /** http://127.0.0.2:port: where LFS files are redirected. */
    readonly storageOrigin: string;
    readonly requests: RecordedRequest[];
    /** Set and cleared by the tests between downloads. */
    faults: FakeHubFaults;
    readonly repos: Map<string, FakeHubRepo>;
    close(): Promise<void>;
}

const lfsExtensions = [".safetensors", ".bin", ".gguf"];

export function isLfs(filePath: string): boolean {
    return lfsExtensions.some((extension) => filePath.endsWith(extension));
}

export function sha256Of(data: Uint8Array): string {
    return createHash("sha256").update(data).digest("hex");
}

export function gitBlobIdOf(data: Uint8Array): string {
    return createHash("sha1").update(`blob ${data.byteLength}\0`).update(data).digest("hex");
}

/** Every file under `dir`, by its path relative to it with `/`. */
export async function repoFilesFromFolder(dir: string): Promise<Map<string, Uint8Array>> {
    const files = new Map<string, Uint8Array>();
    const walk = async (folder: string, prefix: string): Promise<void> => {
        for (const entry of await readdir(folder, { withFileTypes: true })) {
            const relative = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
            if (entry.isDirectory())
                await walk(path.join(folder, entry.name), relative);
            else
                files.set(relative, await readFile(path.join(folder, entry.name)));
        }
    };
    await walk(dir, "");
    return files;
}

async function listen(server: http.Server, host: string): Promise<string> {
    server.listen(0, host);
    await once(server, "listening");
    return `http://${host}:${(server.address() as AddressInfo).port}`;
}

/** Writes `data` from `start` in small chunks, applying the drop / stall / corrupt faults of `filePath`. */
async function sendBody(response: http.ServerResponse, data: Uint8Array, start: number, filePath: string, faults: FakeHubFaults): Promise<void> {
    let body = data.subarray(start);
    if (faults.corrupt === filePath && body.byteLength > 0) {
        body = Uint8Array.from(body);
        body[body.byteLength - 1] ^= 0xff;
    }
    const drop = faults.drop?.path === filePath && faults.drop.times > 0 ? faults.drop : undefined;
    if (drop !== undefined)
        drop.times--;
    const stall = faults.stall?.path === filePath ? faults.stall : undefined;
    const chunk = 4096;
    for (let offset = 0; offset < body.byteLength; offset += chunk) {
        const end = Math.min(offset + chunk, body.byteLength);
        const limit = drop?.afterBytes ?? stall?.afterBytes;
        if (limit !== undefined && start + end > limit) {
            // Flushed before the drop, so that the client has exactly `limit` bytes; a stall keeps the response open.
            response.write(body.subarray(offset, Math.max(offset, limit - start)), () => {
                if (drop !== undefined)
                    response.socket?.destroy();
            });
            return;
        }
        if (!response.write(body.subarray(offset, end)))
            await once(response, "drain");
        if (faults.chunkDelayMs !== undefined)
            await new Promise((resolve) => setTimeout(resolve, faults.chunkDelayMs));
    }
    response.end();
}

function rangeStart(request: http.IncomingMessage, faults: FakeHubFaults): number | undefined {
    const match = /^bytes=(\d+)-$/.exec(request.headers.range ?? "");
    return match === null || faults.ignoreRange === true ? undefined : Number(match[1]);
}

function fileHeaders(data: Uint8Array, start: number | undefined): http.OutgoingHttpHeaders {
    return start === undefined
        ? { "content-length": data.byteLength, "accept-ranges": "bytes" }
        : { "content-length": data.byteLength - start, "content-range": `bytes ${start}-${data.byteLength - 1}/${data.byteLength}`, "accept-ranges": "bytes" };
}

export async function startFakeHub(repos: Iterable<[string, FakeHubRepo]>): Promise<FakeHub> {
    const hub: { faults: FakeHubFaults } = { faults: {} };
    const repoMap = new Map(repos);
    const requests: RecordedRequest[] = [];
    const byDigest = new Map<string, { data: Uint8Array; path: string }>();
    const storageServer = http.createServer();
    const hubServer = http.createServer();
    const storageOrigin = await listen(storageServer, "127.0.0.2");
    const endpoint = await listen(hubServer, "127.0.0.1");

    const error = (response: http.ServerResponse, status: number, code?: string): void => {
        response.writeHead(status, { "content-type": "application/json", ...(code !== undefined ? { "x-error-code": code } : {}) });
        response.end(JSON.stringify({ error: code ?? `HTTP ${status}` }));
    };

    hubServer.on("request", (request, response) => {
        requests.push({ server: "hub", url: request.url ?? "", headers: request.headers });
        const faults = hub.faults;
        const url = new URL(request.url ?? "/", endpoint);
        const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
        const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
        const filePath = resolve === null ? undefined : resolve[3].split("/").map(decodeURIComponent).join("/");
        if (faults.status !== undefined && faults.status.times > 0 && (faults.status.path === undefined || faults.status.path === filePath)) {
            faults.status.times--;
            error(response, faults.status.code);
            return;
        }
        if (faults.requiredToken !== undefined && request.headers.authorization !== `Bearer ${faults.requiredToken}`) {
            error(response, 401, "GatedRepo");
            return;
        }
        const repoId = api?.[1] ?? resolve?.[1];
        const repo = repoId === undefined ? undefined : repoMap.get(repoId);
        if (repo === undefined) {
            error(response, 404, "RepoNotFound");
            return;
        }
        const revision = decodeURIComponent(api?.[2] ?? resolve?.[2] ?? "");
        if (revision !== "main" && revision !== repo.commit) {
            error(response, 404, "RevisionNotFound");
            return;
        }
        if (api !== null) {
            const blobs = url.searchParams.get("blobs") === "true";
            const siblings = [...repo.files].map(([name, data]) => ({
                rfilename: name,
                ...(blobs ? { size: data.byteLength, blobId: gitBlobIdOf(data) } : {}),
                ...(blobs && isLfs(name) ? { lfs: { sha256: sha256Of(data), size: data.byteLength, pointerSize: 134 } } : {}),
            }));
            response.writeHead(200, { "content-type": "application/json" });
            response.end(JSON.stringify({ id: repoId, modelId: repoId, sha: repo.commit, siblings }));
            return;
        }
        const data = filePath === undefined ? undefined : repo.files.get(filePath);
        if (filePath === undefined || data === undefined) {
            error(response, 404, "EntryNotFound");
            return;
        }
        if (isLfs(filePath)) {
            const digest = sha256Of(data);
            byDigest.set(digest, { data, path: filePath });
            response.writeHead(302, {
                location: `${storageOrigin}/lfs/${digest}?filename=${encodeURIComponent(filePath)}`,
                "x-linked-etag": `"${faults.otherEtag === filePath ? "0".repeat(64) : digest}"`,
                "x-linked-size": data.byteLength,
                "x-repo-commit": repo.commit,
                etag: `"${gitBlobIdOf(data)}"`,
            });
            response.end();
            return;
        }
        const start = rangeStart(request, faults);
        const etag = faults.otherEtag === filePath ? "0".repeat(40) : gitBlobIdOf(data);
        response.writeHead(start === undefined ? 200 : 206, { ...fileHeaders(data, start), etag: `W/"${etag}"`, "x-repo-commit": repo.commit });
        void sendBody(response, data, start ?? 0, filePath, faults);
    });

    storageServer.on("request", (request, response) => {
        requests.push({ server: "storage", url: request.url ?? "", headers: request.headers });
        const digest = /^\/lfs\/([0-9a-f]{64})/.exec(request.url ?? "")?.[1];
        const file = digest === undefined ? undefined : byDigest.get(digest);
        if (file === undefined) {
            error(response, 404);
            return;
        }
        const start = rangeStart(request, hub.faults);
        response.writeHead(start === undefined ? 200 : 206, { ...fileHeaders(file.data, start), etag: `"${digest}"` });
        void sendBody(response, file.data, start ?? 0, file.path, hub.faults);
    });

    return {
        endpoint,
        storageOrigin,
        requests,
        repos: repoMap,
        get faults() {
            return hub.faults;
        },
        set faults(value: FakeHubFaults) {
            hub.faults = value;
        },
        async close() {
            for (const server of [hubServer, storageServer]) {
                server.closeAllConnections();
                server.close();
                await once(server, "close");
            }
        },
    };
}
