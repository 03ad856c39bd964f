/**
 * `tah pull` end to end against the fake hub, as a user runs it (HF_ENDPOINT, HF_TOKEN): a TaH checkpoint downloaded
 * and converted to q8_0 with llama.cpp's quantizer, the result traced; a 3-depth TaH2 checkpoint pulled, converted
 * and traced at every depth; a GGUF by catalogue-style repository id;
 * progress lines when stdout is not a terminal; a gated repository without a token; usage mistakes.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { repoFilesFromFolder, startFakeHub, type FakeHub } from "../support/fakeHub.js";
import { writeSyntheticCheckpoint } from "../support/syntheticCheckpoint.js";
import { writeTah2Checkpoint } from "../support/tah2Checkpoint.js";
import { createTinyTah, writeTinyBackbone } from "../support/tinyTah.js";
import { tokenize } from "../support/tinyTokenizer.js";

const commit = "89abcdef0123456789abcdef0123456789abcdef";
let root = "";
let hub: FakeHub;
let gguf: Buffer;

before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah-pull-cli-"));
    const checkpoint = (await writeSyntheticCheckpoint(path.join(root, "TaH-tiny"), createTinyTah({ seed: 4 }), { backboneDtype: "BF16", deciderDtype: "bfloat16" })).dir;
    const ggufFile = path.join(root, "tiny.gguf");
    await writeTinyBackbone(ggufFile, createTinyTah({ seed: 9 }));
    gguf = await readFile(ggufFile);
    const tah2 = (await writeTah2Checkpoint(path.join(root, "TaH2-tiny"), { seed: 8, maxIter: 3 })).dir;
    hub = await startFakeHub([
        ["test-org/TaH-tiny", { commit, files: await repoFilesFromFolder(checkpoint) }],
        ["test-org/TaH2-tiny", { commit, files: await repoFilesFromFolder(tah2) }],
        ["test-org/Tiny-GGUF", { commit, files: new Map([["tiny-q8_0.gguf", gguf], ["tiny-f16.gguf", gguf]]) }],
    ]);
});

after(async () => {
    await hub.close();
    await rm(root, { recursive: true, force: true });
});

/** Runs the CLI without blocking this process, which serves the fake hub. */
function tah(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, HF_ENDPOINT: hub.endpoint, HF_TOKEN: "", HTTPS_PROXY: "", HTTP_PROXY: "", https_proxy: "", http_proxy: "", ...env },
        timeout: 120_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

test("pulls a TaH checkpoint, converts it to q8_0 with llama.cpp's quantizer, and the model traces", async () => {
    const out = path.join(root, "tah-q8");
    const run = await tah(["pull", "test-org/TaH-tiny", "--out", out, "--type", "q8_0", "--threads", "1"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /listing test-org\/TaH-tiny@main on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(run.stdout, /downloading 100% .* \((\d+)\/\1 files\)/);
    assert.match(run.stdout, /quantizing the backbone to q8_0 with llama\.cpp/);
    assert.match(run.stdout, new RegExp(`${out.replace(/[.]/g, "\\.")} \\(TaH model, q8_0, commit 89abcdef0123\\)`));
    assert.deepEqual((await readdir(out)).sort(), ["backbone.gguf", "decider.gguf", "lora.gguf", "tah-model.json"]);
    assert.equal(existsSync(`${out}.download`), false);
    const trace = await tah(["trace", "--model", out, "--tokens", tokenize("x = 1").join(","), "--steps", "2", "--threads", "1", "--json"]);
    assert.equal(trace.status, 0, trace.stderr);
    assert.ok(trace.stdout.trim().split("\n").length >= 3);
});

test("pulls a TaH2 checkpoint, converts it, and the model traces through all three depths", async () => {
    const out = path.join(root, "tah2-f16");
    const run = await tah(["pull", "test-org/TaH2-tiny", "--out", out, "--type", "f16", "--threads", "1"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`${out.replace(/[.]/g, "\\.")} \\(TaH model, f16, commit 89abcdef0123\\)`));
    assert.deepEqual((await readdir(out)).sort(), ["backbone.gguf", "tah-model.json", "tah2.gguf"]);
    const manifest = JSON.parse(await readFile(path.join(out, "tah-model.json"), "utf8")) as { generation?: number; maxIter?: number };
    assert.deepEqual([manifest.generation, manifest.maxIter], [2, 3]);
    assert.equal(existsSync(`${out}.download`), false);
    // threshold 0: every token runs every depth, so the engine really ran the model's three
    const trace = await tah(["trace", "--model", out, "--tokens", tokenize("x = 1").join(","), "--steps", "2", "--threshold", "0", "--threads", "1", "--json"]);
    assert.equal(trace.status, 0, trace.stderr);
    const records = trace.stdout.trim().split("\n").map((line) => JSON.parse(line) as { depth: number; pContinue: number[] });
    assert.ok(records.length >= 3);
    assert.ok(records.every((record) => record.depth === 2 && record.pContinue.length === 2), trace.stdout);
});

test("a GGUF repository with several quantizations: --type picks one, and it lands in OUT byte-identical", async () => {
    const out = path.join(root, "gguf");
    const ambiguous = await tah(["pull", "test-org/Tiny-GGUF", "--out", out]);
    assert.equal(ambiguous.status, 1);
    assert.match(ambiguous.stderr, /tah pull: test-org\/Tiny-GGUF has 2 GGUF models; choose one with --include \(or --type\)/);
    const run = await tah(["pull", "test-org/Tiny-GGUF", "--out", out, "--type", "q8_0"]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(await readdir(out), ["tiny-q8_0.gguf"]);
    assert.match(run.stdout, /tiny-q8_0\.gguf: qwen3, fill-in-the-middle tokens: ghost text uses them/);
    assert.deepEqual(await readFile(path.join(out, "tiny-q8_0.gguf")), gguf);
});

test("a gated repository without HF_TOKEN exits 1 saying a token is needed; usage mistakes exit 2", async () => {
    hub.faults = { requiredToken: "hf_x" };
    try {
        const run = await tah(["pull", "test-org/Tiny-GGUF", "--out", path.join(root, "gated"), "--type", "q8_0"]);
        assert.equal(run.status, 1);
        assert.match(run.stderr, /tah pull: test-org\/Tiny-GGUF@main needs a Hugging Face token .*set HF_TOKEN/);
        const withToken = await tah(["pull", "test-org/Tiny-GGUF", "--out", path.join(root, "gated"), "--type", "q8_0"], { HF_TOKEN: "hf_x" });
        assert.equal(withToken.status, 0, withToken.stderr);
    } finally {
        hub.faults = {};
    }
    for (const [args, message] of [[["pull"], /give the repository/], [["pull", "not a repo"], /is not a Hugging Face repository id/], [["pull", "a/b", "--type", "q9"], /--type must be one of/]] as const) {
        const run = await tah([...args]);
        assert.equal(run.status, 2, run.stderr);
        assert.match(run.stderr, message);
        assert.match(run.stderr, /tah pull REPO\[@REVISION\]/);
    }
});
