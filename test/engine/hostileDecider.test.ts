/**
 * Hostile decider files, generated here (never committed as binaries): each runs `tah trace` in a child process under
 * a time and memory limit and must end in a clear one-line error or a clean run, never a signal. The addon's load
 * errors carry the engine error code modelFile. Memory peaks are printed per case.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { TahModel } from "../../src/engine/model/TahModel.js";
import { loadPatchedLlama, type PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import { writeGguf } from "../../src/gguf/ggufWriter.js";
import { gguf, type GgufMetadata } from "../../src/gguf/ggufTypes.js";
import { createTinyTah, deciderGgufContent, generateTinyTah, type TinyTahOptions } from "../support/tinyTah.js";

const timeLimitMs = 60_000;
const memoryLimitBytes = 1024 * 1024 * 1024;

interface Outcome {
    status: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    peakRssBytes: number;
    killedFor?: "time" | "memory";
}

let root: string;
let patched: PatchedLlama;

before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah-hostile-decider-"));
    patched = await loadPatchedLlama({ gpu: "cpu" });
});

after(async () => {
    await patched.llama.dispose();
    await rm(root, { recursive: true, force: true });
});

/** Peak resident memory of a running process (Linux), 0 once it is gone. */
function peakRss(pid: number): number {
    try {
        const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
        return kb === undefined ? 0 : Number(kb) * 1024;
    } catch {
        return 0;
    }
}

/** `tah trace` on a model, killed past the time or memory limit. */
function traceLimited(modelDir: string): Promise<Outcome> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "trace", "--model", modelDir,
            "--prompt", "def add(a, b):", "--steps", "3", "--threads", "1", "--gpu", "cpu"], { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let peak = 0;
        let killedFor: Outcome["killedFor"];
        child.stdout.on("data", (chunk: Buffer) => stdout += chunk.toString());
        child.stderr.on("data", (chunk: Buffer) => stderr += chunk.toString());
        const watch = setInterval(() => {
            peak = Math.max(peak, peakRss(child.pid!));
            if (peak > memoryLimitBytes && killedFor === undefined) {
                killedFor = "memory";
                child.kill("SIGKILL");
            }
        }, 20);
        const timer = setTimeout(() => {
            killedFor = "time";
            child.kill("SIGKILL");
        }, timeLimitMs);
        child.on("close", (status, signal) => {
            clearInterval(watch);
            clearTimeout(timer);
            resolve({ status, signal, stdout, stderr, peakRssBytes: peak, ...(killedFor !== undefined ? { killedFor } : {}) });
        });
    });
}

/** A tiny TaH model folder whose decider.gguf is rewritten by `change` (metadata or raw bytes). */
async function hostileModel(name: string, options: TinyTahOptions, change?: { metadata?: GgufMetadata; bytes?: (file: Buffer) => Buffer }): Promise<string> {
    const dir = path.join(root, name);
    await generateTinyTah(dir, { seed: 5, ...options });
    const decider = path.join(dir, "decider.gguf");
    if (change?.metadata !== undefined) {
        const content = deciderGgufContent(createTinyTah({ seed: 5, ...options }));
        await writeGguf(decider, { ...content, metadata: { ...content.metadata, ...change.metadata }, sync: false });
    }
    if (change?.bytes !== undefined)
        await writeFile(decider, change.bytes(await readFile(decider)));
    return dir;
}

/** Declares the last tensor (backbone.output_layer.1.bias, one float) as 2^28 floats: 1 GiB past a small file. */
function hugeLastTensor(file: Buffer): Buffer {
    const name = Buffer.from("backbone.output_layer.1.bias");
    const at = file.indexOf(name);
    assert.ok(at > 0, "the tensor info is in the file");
    const dimsAt = at + name.length + 4;
    assert.equal(file.readUInt32LE(at + name.length), 1, "a 1-D tensor");
    const out = Buffer.from(file);
    out.writeBigUInt64LE(2n ** 28n, dimsAt);
    return out;
}

function report(name: string, outcome: Outcome): void {
    console.log(`${name}: exit ${outcome.status ?? outcome.signal}, peak RSS ${(outcome.peakRssBytes / 2 ** 20).toFixed(0)} MiB${outcome.killedFor ? `, killed for ${outcome.killedFor}` : ""}`);
}

function assertCleanError(outcome: Outcome, message: RegExp): void {
    assert.equal(outcome.killedFor, undefined, `killed for ${outcome.killedFor}`);
    assert.equal(outcome.signal, null, `ended by ${outcome.signal}: ${outcome.stderr}`);
    assert.equal(outcome.status, 1, `exit ${outcome.status}: ${outcome.stderr}`);
    const lines = outcome.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line, not a stack trace: ${outcome.stderr}`);
    assert.match(lines[0], message);
}

function assertCleanRun(outcome: Outcome): void {
    assert.equal(outcome.killedFor, undefined, `killed for ${outcome.killedFor}`);
    assert.equal(outcome.signal, null, `ended by ${outcome.signal}: ${outcome.stderr}`);
    assert.equal(outcome.status, 0, outcome.stderr);
    assert.ok(outcome.stdout.split("\n").length > 4, outcome.stdout);
}

// the graph's node budget follows from the block count: 56 blocks overflowed a fixed 512 nodes, 100 aborted
for (const blocks of [56, 100]) {
    test(`a decider of ${blocks} blocks runs`, async () => {
        const outcome = await traceLimited(await hostileModel(`blocks-${blocks}`, { deciderBlocks: blocks, deciderWidth: 8 }));
        report(`blocks ${blocks}`, outcome);
        assertCleanRun(outcome);
    });
}

const refused: Array<[string, TinyTahOptions, Parameters<typeof hostileModel>[2], RegExp]> = [
    ["layer_norm_epsilon NaN", {}, { metadata: { "tah.decider.layer_norm_epsilon": gguf.float32(Number.NaN) } }, /layer_norm_epsilon must be a finite number >= 0/],
    ["layer_norm_epsilon -1", {}, { metadata: { "tah.decider.layer_norm_epsilon": gguf.float32(-1) } }, /layer_norm_epsilon must be a finite number >= 0/],
    ["threshold NaN", {}, { metadata: { "tah.threshold": gguf.float32(Number.NaN) } }, /tah\.threshold must be a finite number/],
    ["block_count 2^31-1", {}, { metadata: { "tah.decider.block_count": gguf.uint32(2 ** 31 - 1) } }, /block_count is 2147483647 but the file holds only 22 tensors \(6 per block\)/],
    ["a 1 GiB tensor in a small file", {}, { bytes: hugeLastTensor }, /tensor backbone\.output_layer\.1\.bias declares 1073741824 bytes beyond the end of the file/],
    ["logit top-k above the vocabulary", {}, { metadata: { "tah.decider.logit_top_k": gguf.uint32(1_000_000) } }, /top-k .* exceeds the backbone's vocabulary/],
];

for (const [name, options, change, message] of refused) {
    test(`a decider with ${name} is refused with a clear error`, async () => {
        const outcome = await traceLimited(await hostileModel(name.replaceAll(/\W+/g, "-"), options, change));
        report(name, outcome);
        assertCleanError(outcome, message);
    });
}

test("the addon's decider errors carry the modelFile code", async () => {
    const dir = await hostileModel("code-check", {}, { metadata: { "tah.decider.layer_norm_epsilon": gguf.float32(Number.NaN) } });
    await assert.rejects(TahModel.load(patched, dir), (error: unknown) => {
        assert.equal(engineErrorCodeOf((error as Error).cause), "modelFile");
        return true;
    });
});
