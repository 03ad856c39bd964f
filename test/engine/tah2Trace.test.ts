/** `tah trace --json` on a converted TaH2 checkpoint, as a user runs it, checked against the float64 reference. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { TraceLine } from "../../src/cli/traceCommand.js";
import { convertCheckpoint } from "../../src/convert/convertCheckpoint.js";
import { loadTah2Checkpoint } from "../reference/tah2/loadTah2Checkpoint.js";
import { runTah2Reference } from "../reference/tah2/runTah2Reference.js";
import type { Tah2Model } from "../reference/tah2/tah2Model.js";
import { writeTah2Checkpoint } from "../support/tah2Checkpoint.js";
import { tokenize } from "../support/tinyTokenizer.js";

let dir: string;
let reference: Tah2Model;
const prompt = "let total = 0;\nfor (const x of xs) total +=";

before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "tah2-trace-"));
    const checkpoint = await writeTah2Checkpoint(path.join(dir, "checkpoint"), { seed: 7, maxIter: 3 });
    await convertCheckpoint({ checkpointDir: checkpoint.dir, outDir: path.join(dir, "model"), type: "f32", sync: false });
    reference = await loadTah2Checkpoint(checkpoint.dir);
});

after(() => rm(dir, { recursive: true, force: true }));

function trace(args: string[]): TraceLine[] {
    const result = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "trace", "--model", path.join(dir, "model"), ...args, "--threads", "1", "--json"],
        { encoding: "utf8", timeout: 60_000 });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim().split("\n").map((line) => JSON.parse(line) as TraceLine);
}

test("TaH2 trace: depth, the decider's probability at each depth and the mixture's top ten log-probabilities per position", () => {
    // threshold 0: every token runs all 3 depths, so the decider runs at depths 0 and 1 and no decision can flip
    const records = trace(["--prompt", prompt, "--steps", "4", "--threshold", "0"]);
    const tokens = tokenize(prompt);
    const expected = runTah2Reference(reference, { promptTokens: tokens, steps: 4, threshold: 0 }).records;
    assert.equal(records.length, tokens.length + 4);
    records.forEach((record, i) => {
        assert.equal(record.position, i);
        assert.equal(record.token, expected[i].token);
        assert.equal(record.depth, 2);
        assert.equal(record.iterated, true);
        assert.equal(record.pHard, undefined, "pHard is TaH v1's field");
        assert.equal(record.pContinue.length, 2);
        record.pContinue.forEach((g, d) => assert.ok(Math.abs(g - expected[i].pContinue[d]) < 5e-3, `g at depth ${d} of ${i}`));
        assert.equal(record.top.length, 10);
        // the CLI runs the product's defaults (f16 KV cache): compare at that tolerance
        for (const [id, value] of record.top)
            assert.ok(Math.abs(value - expected[i].logProbs[id]) < 0.15, `log P of ${id} at ${i}`);
        assert.ok(record.top.every(([, value]) => value <= 0), "log-probabilities");
    });
});

test("TaH2 trace: threshold 1 keeps every token at depth 0, with the decider's one probability", () => {
    const records = trace(["--tokens", tokenize(prompt).join(","), "--steps", "2", "--threshold", "1"]);
    assert.ok(records.every((record) => record.depth === 0 && !record.iterated && record.pContinue.length === 1));
});
