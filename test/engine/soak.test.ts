/**
 * A short run of the soak (bench/soak.ts): typing replay, chat and analysis at once with random cancels on the
 * default model; every completion that was not cancelled equals the same request run alone, and nothing fails
 * with anything but `aborted`. The full soak runs for minutes; this one for 40 seconds.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";

const repo = path.resolve(import.meta.dirname, "..", "..");

test("a 40-second soak: no wrong answer, no error but aborted", (t) => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "bench/soak.ts", "--seconds", "40", "--json"], { cwd: repo, encoding: "utf8", timeout: 180_000 });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    const report = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as { compared: number; wrong: number; failures: string[]; rounds: number; rssGrowthPercent: number };
    t.diagnostic(run.stdout.trim());
    assert.deepEqual(report.failures, []);
    assert.equal(report.wrong, 0);
    assert.ok(report.compared > 0 && report.rounds > 0, "completions ran and were compared");
});
