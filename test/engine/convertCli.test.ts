/** `tah convert` end to end, as a user runs it: progress, the files and sizes, usage mistakes, bad input, Ctrl-C. */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { maxDeciderBlocks } from "../../src/convert/tahConfig.js";
import { writeSyntheticCheckpoint } from "../support/syntheticCheckpoint.js";
import { createTinyTah } from "../support/tinyTah.js";
import { tokenize } from "../support/tinyTokenizer.js";

let root = "";
let checkpoint = "";
/** A larger checkpoint, so that quantizing it takes long enough to be interrupted. */
let large = "";

before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah-convert-cli-"));
    checkpoint = (await writeSyntheticCheckpoint(path.join(root, "checkpoint"), createTinyTah({ seed: 4 }), { backboneDtype: "BF16", deciderDtype: "bfloat16" })).dir;
    const big = createTinyTah({ seed: 4, nLayer: 4, nEmbd: 512, nFf: 1024, nHead: 8, nHeadKv: 4, headDim: 64, taps: [1, 2, 3] });
    large = (await writeSyntheticCheckpoint(path.join(root, "large"), big, { backboneDtype: "BF16" })).dir;
});

after(() => rm(root, { recursive: true, force: true }));

function tah(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", timeout: 120_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function siblings(out: string): Promise<string[]> {
    return (await readdir(path.dirname(out))).filter((name) => name.startsWith(`${path.basename(out)}.`));
}

test("converts to q8_0 with progress and a list of files and sizes; the result traces", () => {
    const out = path.join(root, "q8");
    const run = tah(["convert", checkpoint, "--out", out, "--type", "q8_0", "--threads", "1"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /reading .*checkpoint/);
    assert.match(run.stdout, /writing the backbone/);
    assert.match(run.stdout, /quantizing the backbone to q8_0 with llama\.cpp/);
    assert.match(run.stdout, /threshold 0\.5 \(tah_config\.json 0\.5 as bfloat16\)/);
    for (const file of ["tah-model.json", "backbone.gguf", "lora.gguf", "decider.gguf"])
        assert.match(run.stdout, new RegExp(`${file.replace(".", "\\.")}\\s+\\d+(\\.\\d)? (B|KiB|MiB)`));
    const trace = tah(["trace", "--model", out, "--tokens", tokenize("x = 1").join(","), "--steps", "2", "--threads", "1", "--json"]);
    assert.equal(trace.status, 0, trace.stderr);
    assert.ok(trace.stdout.trim().split("\n").length >= 3);
});

test("a decider with the most blocks the converter writes runs in the engine: what it converts, the engine runs", async () => {
    const deep = (await writeSyntheticCheckpoint(path.join(root, "deep"), createTinyTah({ seed: 4, deciderBlocks: maxDeciderBlocks }))).dir;
    const out = path.join(root, "deep-f32");
    const run = tah(["convert", deep, "--out", out, "--type", "f32"]);
    assert.equal(run.status, 0, run.stderr);
    const trace = tah(["trace", "--model", out, "--tokens", tokenize("x = 1").join(","), "--steps", "2", "--threads", "1", "--threshold", "0"]);
    assert.equal(trace.status, 0, trace.stderr);
});

test("usage mistakes exit 2 with the usage", () => {
    const cases: Array<[string[], RegExp]> = [
        [["convert"], /give the checkpoint folder/],
        [["convert", checkpoint, "--out", path.join(root, "x"), "--type", "q9_9"], /--type must be one of f32, f16, bf16, q8_0/],
        [["convert", checkpoint, "--out", path.join(root, "x"), "--bogus"], /Unknown option '--bogus'/],
        [["convert", checkpoint, "--out", path.join(root, "x"), "--threads", "40000"], /--threads must be an integer from 1 to 256, not "40000"/],
    ];
    for (const [args, message] of cases) {
        const run = tah(args);
        assert.equal(run.status, 2, `${args.join(" ")}: ${run.stderr}`);
        assert.match(run.stderr, message);
        assert.match(run.stderr, /tah convert CHECKPOINT_DIR --out OUT/);
    }
});

test("trace: --threads beyond the engine's cap of 256 is a usage mistake", () => {
    const run = tah(["trace", "--model", checkpoint, "--tokens", "1", "--threads", "40000"]);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /--threads must be an integer from 0 to 256, not "40000"/);
});

test("bad input and an occupied output exit 1 with the file and the problem", async () => {
    const broken = path.join(root, "broken");
    await writeSyntheticCheckpoint(broken, createTinyTah({ seed: 4 }));
    await rm(path.join(broken, "tah_config.json"));
    const out = path.join(root, "never");
    const run = tah(["convert", broken, "--out", out]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, new RegExp(`tah convert: ${path.join(broken, "tah_config.json").replace(/[.]/g, "\\.")} is missing`));
    assert.equal(existsSync(out), false);

    const occupied = path.join(root, "occupied");
    await mkdir(occupied);
    await writeFile(path.join(occupied, "notes.txt"), "keep");
    const refused = tah(["convert", checkpoint, "--out", occupied]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /exists and is not empty; choose another --out, or pass --force/);
    assert.deepEqual(await readdir(occupied), ["notes.txt"]);
});

test("Ctrl-C while quantizing stops the conversion and leaves nothing behind", async () => {
    const out = path.join(root, "interrupted");
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "convert", large, "--out", out, "--type", "q4_k_m", "--threads", "1"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes("quantizing the backbone"))
            child.kill("SIGINT");
    });
    child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
    });
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.match(stdout, /quantizing the backbone/);
    assert.equal(status, 130, stderr);
    assert.match(stderr, /interrupting/);
    assert.match(stderr, /tah convert: interrupted; nothing was written to .* \(aborted\)/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(await siblings(out), []);
});
