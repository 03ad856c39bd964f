/** The pure pieces of downloads: the progress model, repository ids, file selection, retries, the CLI's progress line. */
import assert from "node:assert/strict";
import { test } from "node:test";
import os from "node:os";
import { formatDownload, formatDuration, progressPrinter } from "../../src/cli/pullProgress.js";
import { readFreeSpace } from "../../src/models/freeSpace.js";
import { DownloadError, isTransient } from "../../src/models/DownloadError.js";
import { ProgressModel } from "../../src/models/downloadProgress.js";
import type { RepoFile } from "../../src/models/HubClient.js";
import { repoKindOf, selectFiles } from "../../src/models/repoFiles.js";
import { parseRepoRef } from "../../src/models/repoRef.js";
import { backoffDelayMs, withRetries } from "../../src/models/retryPolicy.js";

test("progress: resumed bytes count as done but not as speed; speed over the window; time left from it", () => {
    const model = new ProgressModel(10_000, 2, 5000, 500);
    model.resumed(4000);
    assert.deepEqual(model.snapshot(0), { doneBytes: 4000, totalBytes: 10_000, bytesPerSecond: undefined, secondsLeft: undefined, filesDone: 0, filesTotal: 2 });
    model.received(1000, 0);
    model.received(1000, 400);
    assert.equal(model.snapshot(400).bytesPerSecond, undefined, "less than the shortest span");
    model.received(1000, 1000);
    const at1s = model.snapshot(1000);
    assert.equal(at1s.doneBytes, 7000);
    assert.equal(at1s.bytesPerSecond, 3000, "the 3000 bytes of this run, in the second since the first arrived");
    assert.equal(at1s.secondsLeft, 1);
    // A stall: no bytes, so the speed over the window falls.
    assert.equal(model.snapshot(2000).bytesPerSecond, 1500);
    // Samples older than the window drop out (one is kept at its start).
    model.received(500, 8000);
    assert.equal(model.snapshot(8000).bytesPerSecond, 500 / 7);
    model.fileDone();
    assert.equal(model.snapshot(8000).filesDone, 1);
});

test("progress: a file that starts again from zero takes its bytes back", () => {
    const model = new ProgressModel(1000, 1);
    model.resumed(300);
    model.received(200, 0);
    model.restarted(300, 200);
    assert.equal(model.snapshot(10).doneBytes, 0);
    model.received(1000, 20);
    assert.equal(model.snapshot(30).doneBytes, 1000);
    assert.equal(model.snapshot(30).secondsLeft, 0);
});

test("repository ids: owner/name with an optional @revision, as the hub names them", () => {
    assert.deepEqual(parseRepoRef("nics-efc/TaH-plus-1.7B"), { repo: "nics-efc/TaH-plus-1.7B", revision: "main" });
    assert.deepEqual(parseRepoRef("a/b@v1.0"), { repo: "a/b", revision: "v1.0" });
    for (const bad of ["a", "a/b/c", "-a/b", "a/b.", "a/b--c", "a/b@", "a b/c"])
        assert.throws(() => parseRepoRef(bad), /is not a Hugging Face repository id|give a revision/, bad);
});

const file = (path: string, size = 10): RepoFile => ({ path, size });

test("the kind comes from the file names: a TaH checkpoint, TaH2, a GGUF repository, or neither", () => {
    assert.equal(repoKindOf(["config.json", "tah_config.json", "iter_decider.bin", "model.safetensors"]), "tah");
    assert.equal(repoKindOf(["tah_config.json", "iter_decider.bin", "input_updater.bin"]), "tah2");
    assert.equal(repoKindOf(["README.md", "Model-Q8_0.GGUF"]), "gguf");
    assert.equal(repoKindOf(["config.json", "model.safetensors"]), undefined);
    assert.equal(repoKindOf(["iter_decider.bin", "x.gguf"]), "gguf", "a decider without tah_config.json is not a checkpoint");
});

test("file selection: a checkpoint without its card; one GGUF model, picked by --type or --include", () => {
    const checkpoint = ["config.json", "README.md", ".gitattributes", "lora/adapter_config.json", "assets/plot.png", "model.safetensors"].map((p) => file(p));
    assert.deepEqual(selectFiles("o/r", "tah", checkpoint).map((f) => f.path), ["config.json", "lora/adapter_config.json", "model.safetensors"]);
    const quants = ["m-Q4_K_M.gguf", "m-Q8_0.gguf", "README.md"].map((p) => file(p));
    assert.throws(() => selectFiles("o/r", "gguf", quants), (error: unknown) => error instanceof DownloadError && error.code === "unsupported" && /2 GGUF models; choose one/.test(error.message));
    assert.deepEqual(selectFiles("o/r", "gguf", quants, { type: "q8_0" }).map((f) => f.path), ["m-Q8_0.gguf"]);
    assert.deepEqual(selectFiles("o/r", "gguf", quants, { include: ["*q4_k_m.gguf"] }).map((f) => f.path), ["m-Q4_K_M.gguf"]);
    assert.throws(() => selectFiles("o/r", "gguf", quants, { include: ["*.bin"] }), /no file of o\/r matches \*\.bin/);
    assert.throws(() => selectFiles("o/r", "gguf", quants, { type: "q2_k" }), /has no GGUF file of type q2_k/);
    const split = ["big-00001-of-00002.gguf", "big-00002-of-00002.gguf"].map((p) => file(p));
    assert.equal(selectFiles("o/r", "gguf", split).length, 2, "the parts of a split GGUF are one model");
});

test("retries: only transient failures, a bounded number of times, with a doubling delay", async () => {
    assert.deepEqual([0, 1, 2, 3, 10].map((attempt) => backoffDelayMs(attempt, 1000)), [1000, 2000, 4000, 8000, 30_000]);
    assert.ok(isTransient(new DownloadError("server", "x", { status: 503 })));
    assert.ok(isTransient(new DownloadError("network", "x")));
    assert.ok(!isTransient(new DownloadError("server", "x", { status: 302 })));
    assert.ok(!isTransient(new DownloadError("unauthorized", "x", { status: 401 })));
    let tries = 0;
    await assert.rejects(withRetries(() => {
        tries++;
        return Promise.reject(new DownloadError("network", "dropped"));
    }, { retries: 2, baseDelayMs: 1 }), /dropped/);
    assert.equal(tries, 3);
    tries = 0;
    await assert.rejects(withRetries(() => {
        tries++;
        return Promise.reject(new DownloadError("notFound", "gone", { status: 404 }));
    }, { retries: 5, baseDelayMs: 1 }), /gone/);
    assert.equal(tries, 1);
    tries = 0;
    assert.equal(await withRetries((n) => (++tries, n < 2 ? Promise.reject(new DownloadError("server", "busy", { status: 500 })) : Promise.resolve("ok")), { retries: 4, baseDelayMs: 1 }), "ok");
    assert.equal(tries, 3);
});

test("the progress line: percent, bytes, speed, time left, files", () => {
    assert.equal(formatDuration(5.2), "6s");
    assert.equal(formatDuration(185), "3m 05s");
    assert.equal(formatDuration(7300), "2h 01m");
    const line = formatDownload({ doneBytes: 512 * 2 ** 20, totalBytes: 2 ** 31, bytesPerSecond: 10 * 2 ** 20, secondsLeft: 153.6, filesDone: 3, filesTotal: 9 });
    assert.equal(line, "downloading  25%  512.0 MiB / 2.0 GiB  10.0 MiB/s  2m 34s left  (3/9 files)");
    assert.equal(formatDownload({ doneBytes: 0, totalBytes: 100, bytesPerSecond: undefined, secondsLeft: undefined, filesDone: 0, filesTotal: 1 }), "downloading   0%  0 B / 100 B  (0/1 files)");
});

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: string[] } {
    const written: string[] = [];
    return { stream: { isTTY, write: (text: string) => written.push(text) > 0 } as unknown as NodeJS.WriteStream, written };
}

test("the printer: one line redrawn in place on a terminal, plain lines at each tenth in a log", () => {
    const step = (doneBytes: number, filesDone = 0) => ({ stage: "download" as const, download: { doneBytes, totalBytes: 100, bytesPerSecond: undefined, secondsLeft: undefined, filesDone, filesTotal: 2 } });
    const tty = fakeStream(true);
    const onTty = progressPrinter(tty.stream);
    for (const done of [1, 2, 50])
        onTty.onProgress(step(done));
    onTty.onProgress({ stage: "convert", convert: { stage: "read", message: "reading x" } });
    onTty.finish();
    assert.deepEqual(tty.written, [
        "\rdownloading   1%  1 B / 100 B  (0/2 files)\x1b[K", "\rdownloading   2%  2 B / 100 B  (0/2 files)\x1b[K", "\rdownloading  50%  50 B / 100 B  (0/2 files)\x1b[K",
        "\n", "reading x\n",
    ]);
    const log = fakeStream(false);
    const onLog = progressPrinter(log.stream);
    for (const [done, files] of [[1, 0], [2, 0], [15, 0], [16, 1], [100, 2]])
        onLog.onProgress(step(done, files));
    onLog.finish();
    assert.deepEqual(log.written.map((line) => line.slice(0, 16)), ["downloading   1%", "downloading  15%", "downloading  16%", "downloading 100%"]);
});

test("free space: read from the nearest folder that exists", async () => {
    const free = await readFreeSpace(`${os.tmpdir()}/tah-not-there/deeper`);
    assert.ok(Number.isFinite(free) && free > 0);
});
