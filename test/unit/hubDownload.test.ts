/**
 * Downloads against the fake hub on loopback: a plain GGUF repository and a generated TaH checkpoint (converted to
 * f16, which needs no native build), resume after a dropped connection and after a cancel, checksums, tokens and
 * redirects, status codes, free disk space. Conversion to quantized types through `tah pull` is in
 * test/engine/pullCli.test.ts.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { convertCheckpoint } from "../../src/convert/convertCheckpoint.js";
import { DownloadError, type DownloadErrorCode } from "../../src/models/DownloadError.js";
import { HubClient } from "../../src/models/HubClient.js";
import { installFromHub, type InstallFromHubOptions } from "../../src/models/installFromHub.js";
import { startConnectProxy } from "../support/connectProxy.js";
import { repoFilesFromFolder, startFakeHub, type FakeHub } from "../support/fakeHub.js";
import { writeSyntheticCheckpoint } from "../support/syntheticCheckpoint.js";
import { writeTah2Checkpoint } from "../support/tah2Checkpoint.js";
import { resolveModelFiles } from "../../src/engine/model/modelFiles.js";
import { writeGguf } from "../../src/gguf/ggufWriter.js";
import { backboneGgufContent, createTinyTah, writeTinyBackbone } from "../support/tinyTah.js";

const ggufRepo = "test-org/Tiny-Coder-GGUF";
const ggufName = "tiny-coder-f32.gguf";
const tahRepo = "test-org/TaH-tiny";
const tah2Repo = "test-org/TaH2-tiny-max3";
const noFimRepo = "test-org/No-FIM-GGUF";
const commit = "0123456789abcdef0123456789abcdef01234567";

let root = "";
let hub: FakeHub;
let ggufBytes: Buffer;
let checkpointDir = "";
let tah2Dir = "";
let run = 0;

before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah-hub-"));
    const ggufFile = path.join(root, "source", ggufName);
    await mkdir(path.dirname(ggufFile), { recursive: true });
    await writeTinyBackbone(ggufFile, createTinyTah({ seed: 7, nEmbd: 128, nFf: 256 }));
    ggufBytes = await readFile(ggufFile);
    checkpointDir = (await writeSyntheticCheckpoint(path.join(root, "TaH-tiny"), createTinyTah({ seed: 5 }), { backboneDtype: "BF16" })).dir;
    await writeFile(path.join(checkpointDir, "README.md"), "# a model card\n");
    const tahFiles = await repoFilesFromFolder(checkpointDir);
    tah2Dir = (await writeTah2Checkpoint(path.join(root, "TaH2-tiny-max3"), { seed: 6, maxIter: 3 })).dir;
    // The same model without the metadata's fill-in-the-middle tokens.
    const content = backboneGgufContent(createTinyTah({ seed: 7 }));
    const noFim = path.join(root, "source", "no-fim.gguf");
    await writeGguf(noFim, { ...content, metadata: Object.fromEntries(Object.entries(content.metadata).filter(([key]) => !key.includes(".fim_"))) });
    hub = await startFakeHub([
        [ggufRepo, { commit, files: new Map<string, Uint8Array>([[ggufName, ggufBytes], ["README.md", Buffer.from("# card\n")], [".gitattributes", Buffer.from("*.gguf filter=lfs\n")]]) }],
        [tahRepo, { commit, files: tahFiles }],
        [tah2Repo, { commit, files: await repoFilesFromFolder(tah2Dir) }],
        [noFimRepo, { commit, files: new Map([["no-fim.gguf", await readFile(noFim)]]) }],
    ]);
});

after(async () => {
    await hub.close();
    await rm(root, { recursive: true, force: true });
});

/** A fresh destination and client per download; retries without waiting. */
function options(repo: string, overrides: Partial<InstallFromHubOptions> & { token?: string; out?: string } = {}): InstallFromHubOptions {
    const { token, out, ...rest } = overrides;
    return {
        client: new HubClient({ endpoint: hub.endpoint, env: {}, retry: { baseDelayMs: 1, retries: 3 }, ...(token !== undefined ? { token } : {}) }),
        ref: { repo, revision: "main" },
        outDir: out ?? path.join(root, `out-${run++}`),
        sync: false,
        ...rest,
    };
}

async function rejectsWith(promise: Promise<unknown>, code: DownloadErrorCode, message: RegExp): Promise<void> {
    await assert.rejects(promise, (error: unknown) => {
        assert.ok(error instanceof DownloadError, `not a DownloadError: ${String(error)}`);
        assert.equal(error.code, code, error.message);
        assert.match(error.message, message);
        return true;
    });
}

async function treeOf(dir: string, prefix = ""): Promise<string[]> {
    const names: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
        const relative = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
        names.push(...(entry.isDirectory() ? await treeOf(path.join(dir, entry.name), relative) : [relative]));
    }
    return names.sort();
}

function resetHub(): void {
    hub.faults = {};
    hub.requests.length = 0;
}

test("a GGUF repository: its GGUF file lands in out, byte-identical, from the storage host; nothing else stays", async () => {
    resetHub();
    const o = options(ggufRepo);
    const result = await installFromHub(o);
    assert.equal(result.kind, "gguf");
    assert.equal(result.commit, commit);
    assert.deepEqual(result.files, [ggufName]);
    assert.deepEqual(result.gguf, [{ file: ggufName, architecture: "qwen3", fim: true }]);
    assert.deepEqual(await readFile(path.join(o.outDir, ggufName)), ggufBytes);
    assert.equal(existsSync(`${o.outDir}.download`), false);
    assert.ok(hub.requests.some((r) => r.server === "storage"), "the LFS file came through the redirect");
    assert.ok(hub.requests.every((r) => !r.url.includes("README")), "the model card is not fetched");
    assert.ok(hub.requests.some((r) => r.url === `/api/models/${ggufRepo}/revision/main?blobs=true`));
    assert.ok(hub.requests.some((r) => r.url === `/${ggufRepo}/resolve/${commit}/${ggufName}`), "files come from the listed commit");
});

test("a GGUF without fill-in-the-middle tokens in its metadata is reported as such", async () => {
    resetHub();
    const result = await installFromHub(options(noFimRepo));
    assert.deepEqual(result.gguf, [{ file: "no-fim.gguf", architecture: "qwen3", fim: false }]);
});

test("a TaH checkpoint downloads, verifies and converts; the model equals a conversion of the same files", async () => {
    resetHub();
    const o = options(tahRepo, { type: "f16" });
    const progress: string[] = [];
    const result = await installFromHub({ ...o, onProgress: (p) => progress.push(p.stage) });
    assert.equal(result.kind, "tah");
    assert.equal(result.type, "f16");
    assert.deepEqual(result.files, ["backbone.gguf", "decider.gguf", "lora.gguf", "tah-model.json"]);
    assert.ok(progress.includes("download") && progress.includes("convert"));
    const local = path.join(root, "local-conversion");
    await convertCheckpoint({ checkpointDir, outDir: local, type: "f16", name: "TaH-tiny", sync: false });
    // Byte-identical, the manifest included (it names the checkpoint folder: the repository's name, both times).
    for (const file of result.files)
        assert.deepEqual(await readFile(path.join(o.outDir, file)), await readFile(path.join(local, file)), file);
    assert.equal(existsSync(`${o.outDir}.download`), false);
});

test("a TaH2 checkpoint downloads and converts into a loadable TaH model folder whose manifest says generation 2", async () => {
    resetHub();
    const o = options(tah2Repo, { type: "f16" });
    const progress: string[] = [];
    const result = await installFromHub({ ...o, onProgress: (p) => progress.push(p.stage) });
    assert.equal(result.kind, "tah");
    assert.deepEqual(result.files, ["backbone.gguf", "tah-model.json", "tah2.gguf"]);
    assert.ok(progress.includes("download") && progress.includes("convert"));
    const manifest = JSON.parse(await readFile(path.join(o.outDir, "tah-model.json"), "utf8")) as Record<string, unknown>;
    assert.equal(manifest.generation, 2);
    assert.equal(manifest.maxIter, 3);
    const files = resolveModelFiles(o.outDir);
    assert.ok(files.kind === "tah" && files.generation === 2, "the engine's loader reads it as a TaH2 model");
    const local = path.join(root, "local-tah2-conversion");
    await convertCheckpoint({ checkpointDir: tah2Dir, outDir: local, type: "f16", name: "TaH2-tiny-max3", sync: false });
    for (const file of result.files)
        assert.deepEqual(await readFile(path.join(o.outDir, file)), await readFile(path.join(local, file)), file);
    assert.equal(existsSync(`${o.outDir}.download`), false);
});

test("convert: false keeps a TaH checkpoint as downloaded, byte-identical, for a converter elsewhere (the extension's engine)", async () => {
    resetHub();
    const o = options(tahRepo, { convert: false });
    const progress: string[] = [];
    const result = await installFromHub({ ...o, onProgress: (p) => progress.push(p.stage) });
    assert.equal(result.kind, "checkpoint");
    assert.equal(result.gguf, undefined);
    assert.ok(!progress.includes("convert"));
    assert.ok(result.files.includes("tah_config.json") && result.files.includes("iter_decider.bin"));
    for (const file of result.files)
        assert.deepEqual(await readFile(path.join(o.outDir, file)), await readFile(path.join(checkpointDir, file)), file);
    assert.equal(existsSync(`${o.outDir}.download`), false);
});

test("a TaH checkpoint without --type is converted to the memory estimate's pick, a quantized type, through the quantizer", async () => {
    resetHub();
    // A tiny model fits anywhere: the first (best) default type, q8_0.
    const result = await installFromHub(options(tahRepo, { totalMemoryBytes: 8 * 2 ** 30, quantize: () => Promise.reject(new Error("no quantizer in unit tests")) }))
        .catch((error: unknown) => error);
    // q8_0 needs llama.cpp's quantizer, which the engine tests provide; here the choice is what is checked.
    assert.ok(result instanceof Error && /no quantizer in unit tests/.test(result.message), String(result));
});

test("a connection dropped in the middle of a file resumes with a Range and the result is byte-identical", async () => {
    resetHub();
    hub.faults = { drop: { path: ggufName, afterBytes: 10_000, times: 2 } };
    const o = options(ggufRepo);
    await installFromHub(o);
    assert.deepEqual(await readFile(path.join(o.outDir, ggufName)), ggufBytes);
    const storage = hub.requests.filter((r) => r.server === "storage");
    assert.equal(storage.length, 3);
    assert.equal(storage[0].headers.range, undefined);
    assert.deepEqual(storage.slice(1).map((r) => r.headers.range), ["bytes=10000-", "bytes=10000-"]);
});

test("a server that ignores the Range is read again from the start, and the result is still byte-identical", async () => {
    resetHub();
    hub.faults = { drop: { path: ggufName, afterBytes: 10_000, times: 1 }, ignoreRange: true };
    const o = options(ggufRepo);
    const done: number[] = [];
    await installFromHub({ ...o, onProgress: (p) => p.stage === "download" && done.push(p.download.doneBytes) });
    assert.deepEqual(await readFile(path.join(o.outDir, ggufName)), ggufBytes);
    // The bytes read twice are counted once.
    assert.equal(done.at(-1), ggufBytes.byteLength);
    assert.ok(done.every((bytes) => bytes <= ggufBytes.byteLength));
    assert.deepEqual(hub.requests.filter((r) => r.server === "storage").map((r) => r.headers.range), [undefined, "bytes=10000-"]);
});

test("a wrong checksum is refused and nothing stays", async () => {
    resetHub();
    hub.faults = { corrupt: ggufName };
    const o = options(ggufRepo);
    await rejectsWith(installFromHub(o), "checksum", new RegExp(`${ggufName}: the downloaded bytes have sha256 [0-9a-f]{64}, the hub lists [0-9a-f]{64}`));
    assert.equal(existsSync(o.outDir), false);
    assert.equal(existsSync(`${o.outDir}.download`), false);
});

test("a file whose ETag is not the listed checksum (it changed on the hub) is refused, LFS or not", async () => {
    for (const [repo, file] of [[ggufRepo, ggufName], [tahRepo, "config.json"]]) {
        resetHub();
        hub.faults = { otherEtag: file };
        const o = options(repo, repo === tahRepo ? { type: "f16" } : {});
        await rejectsWith(installFromHub(o), "checksum", new RegExp(`${file.replace(".", "\\.")}: the hub serves a different version \\(ETag 0+\\) than it lists`));
        assert.equal(existsSync(o.outDir), false);
    }
});

test("a gated repository: 401 says a token is needed; with it, the token reaches the hub and never the storage host", async () => {
    resetHub();
    hub.faults = { requiredToken: "hf_secret" };
    const refused = options(ggufRepo);
    await rejectsWith(installFromHub(refused), "unauthorized", /needs a Hugging Face token .*set HF_TOKEN/);
    await rejectsWith(installFromHub(options(ggufRepo, { token: "hf_wrong" })), "unauthorized", /refused the token/);
    hub.requests.length = 0;
    const o = options(ggufRepo, { token: "hf_secret" });
    await installFromHub(o);
    assert.deepEqual(await readFile(path.join(o.outDir, ggufName)), ggufBytes);
    const storage = hub.requests.filter((r) => r.server === "storage");
    assert.ok(storage.length > 0);
    assert.ok(storage.every((r) => r.headers.authorization === undefined), "the token went to the storage host");
    assert.ok(hub.requests.filter((r) => r.server === "hub").every((r) => r.headers.authorization === "Bearer hf_secret"));
});

test("404 and 5xx give clear messages; a 5xx that passes is retried", async () => {
    resetHub();
    await rejectsWith(installFromHub(options("test-org/missing")), "notFound", /test-org\/missing@main was not found on http:\/\/127\.0\.0\.1:\d+ \(HTTP 404\)/);
    hub.faults = { status: { code: 500, times: 100 } };
    await rejectsWith(installFromHub(options(ggufRepo)), "server", /answered HTTP 500; try again later/);
    assert.equal(100 - hub.faults.status!.times, 4, "one try and three retries");
    hub.faults = { status: { code: 503, times: 2, path: ggufName } };
    const o = options(ggufRepo);
    await installFromHub(o);
    assert.deepEqual(await readFile(path.join(o.outDir, ggufName)), ggufBytes);
});

test("cancel leaves only resumable partial files in staging; the next run resumes from them", async () => {
    resetHub();
    hub.faults = { stall: { path: ggufName, afterBytes: 20_000 } };
    const out = path.join(root, "cancelled");
    const controller = new AbortController();
    const cancelled = installFromHub({
        ...options(ggufRepo, { out }),
        signal: controller.signal,
        onProgress: (p) => {
            if (p.stage === "download" && p.download.doneBytes >= 20_000)
                controller.abort();
        },
    });
    await rejectsWith(cancelled, "aborted", /cancelled/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(await treeOf(`${out}.download`), [`.state/${ggufName}.json`, `Tiny-Coder-GGUF/${ggufName}.incomplete`]);
    assert.equal((await readFile(path.join(`${out}.download`, "Tiny-Coder-GGUF", `${ggufName}.incomplete`))).byteLength, 20_000);

    resetHub();
    await installFromHub(options(ggufRepo, { out }));
    assert.deepEqual(await readFile(path.join(out, ggufName)), ggufBytes);
    assert.deepEqual(hub.requests.filter((r) => r.server === "storage").map((r) => r.headers.range), ["bytes=20000-"]);
});

test("files download in parallel: while one stalls, all the others complete", async () => {
    resetHub();
    hub.faults = { stall: { path: "model.safetensors", afterBytes: 1000 } };
    const controller = new AbortController();
    let filesTotal = 0;
    const pull = installFromHub({
        ...options(tahRepo, { type: "f16" }),
        signal: controller.signal,
        onProgress: (p) => {
            if (p.stage === "download" && p.download.filesDone === p.download.filesTotal - 1) {
                filesTotal = p.download.filesTotal;
                controller.abort();
            }
        },
    });
    await rejectsWith(pull, "aborted", /cancelled/);
    assert.ok(filesTotal > 5, String(filesTotal));
    const listed = [...(hub.repos.get(tahRepo)?.files.keys() ?? [])].filter((name) => name !== "README.md");
    assert.ok(listed.indexOf("model.safetensors") < listed.length - 1, "files after the stalled one in the listing completed too");
});

test("a partial file of another version of the file starts again from zero", async () => {
    resetHub();
    const out = path.join(root, "changed");
    const staging = `${out}.download`;
    await mkdir(path.join(staging, "Tiny-Coder-GGUF"), { recursive: true });
    await mkdir(path.join(staging, ".state"), { recursive: true });
    await writeFile(path.join(staging, "Tiny-Coder-GGUF", `${ggufName}.incomplete`), Buffer.alloc(5000, 1));
    await writeFile(path.join(staging, ".state", `${ggufName}.json`), JSON.stringify({ identity: "f".repeat(64), size: ggufBytes.byteLength }));
    await installFromHub(options(ggufRepo, { out }));
    assert.deepEqual(await readFile(path.join(out, ggufName)), ggufBytes);
    assert.deepEqual(hub.requests.filter((r) => r.server === "storage").map((r) => r.headers.range), [undefined]);
});

test("too little free disk space stops before the first byte", async () => {
    resetHub();
    const o = options(tahRepo, { type: "f16", freeSpace: () => Promise.resolve(1000) });
    await rejectsWith(installFromHub(o), "diskSpace", /test-org\/TaH-tiny needs [\d.]+ MiB of free disk space in .* \(download and conversion\), and there are 1000 B/);
    assert.ok(hub.requests.every((r) => !r.url.includes("/resolve/")), "no file was requested");
    assert.equal(existsSync(o.outDir), false);
});

test("through a proxy (an HTTPS_PROXY-style URL): every request, the storage host's too, goes through its tunnels", async () => {
    resetHub();
    const proxy = await startConnectProxy();
    try {
        const o = options(ggufRepo);
        const client = new HubClient({ endpoint: hub.endpoint, env: {}, proxy: `http://user:pass@${proxy.url.slice("http://".length)}` });
        try {
            await installFromHub({ ...o, client });
        } finally {
            await client.close();
        }
        assert.deepEqual(await readFile(path.join(o.outDir, ggufName)), ggufBytes);
        const targets = new Set(proxy.tunnels.map((t) => t.target));
        assert.deepEqual([...targets].sort(), [new URL(hub.endpoint).host, new URL(hub.storageOrigin).host].sort());
        assert.ok(proxy.tunnels.every((t) => t.proxyAuthorization === `Basic ${Buffer.from("user:pass").toString("base64")}`));
        // The proxy from the environment, as the hub's own tools take it.
        hub.requests.length = 0;
        const fromEnv = new HubClient({ endpoint: hub.endpoint, env: { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url } });
        const before = proxy.tunnels.length;
        try {
            await fromEnv.listFiles(ggufRepo, "main");
        } finally {
            await fromEnv.close();
        }
        assert.ok(proxy.tunnels.length > before);
    } finally {
        await proxy.close();
    }
});
