/** `tah trace` end to end, as a user runs it, checked against the reference. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { runReference } from "../reference/runReference.js";
import type { TahModel as ReferenceModel } from "../reference/tahModel.js";
import { generateTinyTah, writeTinyBackbone, createTinyTah } from "../support/tinyTah.js";
import { tokenize } from "../support/tinyTokenizer.js";

interface TraceLine {
    position: number;
    token: number;
    piece: string;
    pHard: number | null;
    iterated: boolean;
    top: Array<[number, number]>;
}

let dir: string;
let reference: ReferenceModel;

before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "tah-trace-"));
    reference = (await generateTinyTah(path.join(dir, "tah"), { seed: 9 })).model;
    await writeTinyBackbone(path.join(dir, "plain.gguf"), createTinyTah({ seed: 9 }));
});

after(() => rm(dir, { recursive: true, force: true }));

function trace(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "trace", ...args], { encoding: "utf8", timeout: 60_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function lines(stdout: string): TraceLine[] {
    return stdout.trim().split("\n").map((line) => JSON.parse(line) as TraceLine);
}

const prompt = "let total = 0;\nfor (const x of xs) total +=";

test("trace prints one record per position, prompt and generated, matching the reference", () => {
    const threshold = 0.5;
    const run = trace(["--model", path.join(dir, "tah"), "--prompt", prompt, "--steps", "6", "--threshold", String(threshold), "--threads", "1", "--json"]);
    assert.equal(run.status, 0, run.stderr);
    const records = lines(run.stdout);
    const tokens = tokenize(prompt);
    const expected = runReference(reference, { promptTokens: tokens, steps: 6, threshold }).records;
    assert.equal(records.length, tokens.length + 6);
    records.forEach((record, i) => {
        assert.equal(record.position, i);
        assert.equal(record.token, expected[i].token);
        assert.equal(record.iterated, expected[i].iterated);
        assert.ok(Math.abs(record.pHard! - expected[i].pHard) < 5e-3, `P(hard) at ${i}`);
        assert.equal(record.top.length, 10);
        // the CLI runs the product's defaults (f16 KV cache): compare at that tolerance
        for (const [id, value] of record.top)
            assert.ok(Math.abs(value - expected[i].finalLogits[id]) < 0.15, `logit ${id} at ${i}`);
        if (i + 1 >= tokens.length && i + 1 < records.length)
            assert.equal(records[i + 1].token, record.top[0][0], `the token generated at ${i + 1} is the top final logit of ${i}`);
    });
});

test("threshold 0 makes every position iterate, threshold 1 none", () => {
    const tokens = tokenize(prompt).join(",");
    for (const [threshold, iterated] of [["0", true], ["1", false]] as const) {
        const run = trace(["--model", path.join(dir, "tah"), "--tokens", tokens, "--steps", "3", "--threshold", threshold, "--threads", "1", "--json"]);
        assert.equal(run.status, 0, run.stderr);
        assert.ok(lines(run.stdout).every((record) => record.iterated === iterated));
    }
});

test("a plain GGUF traces with P(hard) null and no iteration", () => {
    const run = trace(["--model", path.join(dir, "plain.gguf"), "--prompt", prompt, "--steps", "2", "--threads", "1", "--json"]);
    assert.equal(run.status, 0, run.stderr);
    const records = lines(run.stdout);
    assert.ok(records.length > 2);
    assert.ok(records.every((record) => record.pHard === null && !record.iterated));
});

test("usage mistakes exit 2 with the usage; a bad model exits 1 with the reason", () => {
    const usage = trace(["--model", path.join(dir, "tah")]);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /give exactly one of --prompt and --tokens/);
    const missing = trace(["--model", path.join(dir, "missing"), "--prompt", "x"]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no model at/);
});
