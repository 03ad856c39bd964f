/**
 * npm run bench [-- --quick] [--threads N] [--runs N]
 *
 * What TaH costs over plain llama.cpp, how fast completions appear and how much memory it takes, on a model of
 * Qwen3-0.6B's shape with random weights (the tiny shape in --quick), and TaH2's on TaH2-1.7B-max2's shape
 * (bench/tah2Bench.ts; --no-tah2 skips it). Every speed is reported as a ratio to the
 * baseline measured in the same run — node-llama-cpp's own prebuilt binary on the same backbone — because the
 * machine is noisy. Writes bench/results/latest.{md,json,svg}.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { packageRoot } from "../src/engine/native/buildIdentity.js";
import { loadPatchedLlama } from "../src/engine/native/loadPatchedLlama.js";
import type { ReplayBaselineRequest, ReplayBaselineResult, StepBreakdown, WorkerRequest, WorkerResult } from "./benchTypes.js";
import { type ChartPoint, type ChartSeries, decodeChart } from "./chart.js";
import { hardTokenPolicies, replayTyping, type ReplayResult, type TypingPass } from "./completionReplay.js";
import { type BenchShape, qwen3_0_6b, randomTahModel, tinyShape } from "./randomTahModel.js";
import { benchTah2, renderTah2Section, tah2ChartSeries } from "./tah2Bench.js";

const { values } = parseArgs({
    options: {
        quick: { type: "boolean", default: false },
        threads: { type: "string", default: "2" },
        runs: { type: "string" },
        out: { type: "string" },
        // measure speed only (while working on the engine; the report then lacks parts 4 and 5's engine rows)
        "no-replay": { type: "boolean", default: false },
        "no-tah2": { type: "boolean", default: false },
        // the typing replay only (while working on completions; the report then lacks parts 1–3's numbers)
        "no-speed": { type: "boolean", default: false }
    }
});
const quick = values.quick;
const threads = Number(values.threads);
const runs = Number(values.runs ?? (quick ? 2 : 3));
const shape: BenchShape = quick ? tinyShape : qwen3_0_6b;
const decodeTokens = quick ? 24 : 48;
const prefillTokens = quick ? 256 : 512;
const root = packageRoot();
const outDir = values.out ?? path.join(root, "bench", "results");
const cacheDir = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "tah-copilot", "bench");
const targets = { decode0: 0.95, decode7: 0.88, decode100: 0.47, prefill7: 0.85, overheadMs: 2 };
/** Issue 12's goals for the typing replay (ms, or ratios). */
const replayGoals = { p50Ms: 600, p95Ms: 1200, firstTokenMs: 250, vsLlamaCpp: 0.9, withChat: 0.05, defaultP50Ms: 60 };
const replayContextSize = quick ? 2048 : 4096;

function log(message: string): void {
    console.error(`[bench] ${message}`);
}

function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function percentile(values: readonly number[], p: number): number {
    if (values.length === 0)
        return Number.NaN;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function runWorker(file: string, request: WorkerRequest): Promise<WorkerResult> {
    return runJsonWorker(file, request);
}

function runJsonWorker<Result>(file: string, request: WorkerRequest | ReplayBaselineRequest): Promise<Result> {
    return new Promise((resolve, reject) => {
        // a replay's requests outgrow one command-line argument: they go through a file
        const requestFile = path.join(os.tmpdir(), `tah-bench-${process.pid}-${file}.json`);
        writeFileSync(requestFile, JSON.stringify(request));
        const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench", "workers", file), requestFile], { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (data: Buffer) => (stdout += data.toString()));
        child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
        child.on("exit", (code) => {
            rmSync(requestFile, { force: true });
            const line = stdout.trim().split("\n").pop();
            if (code === 0 && line !== undefined)
                resolve(JSON.parse(line) as Result);
            else
                reject(new Error(`${file} exited with ${code}: ${stderr.slice(-2000)}`));
        });
    });
}

interface Series {
    label: string;
    limit: number;
    target?: number;
    decode: number[];
    prefill: number[];
    decodeShare: number[];
    prefillShare: number[];
    breakdowns: StepBreakdown[];
}

function spread(values: readonly number[]): string {
    return `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`;
}

async function main(): Promise<void> {
    const started = Date.now();
    log(`${quick ? "quick mode, " : ""}${shape.name}, ${threads} thread(s), ${runs} run(s)`);
    const patched = await loadPatchedLlama({ gpu: "cpu" });
    const modelDir = await randomTahModel(cacheDir, shape, patched, Math.max(threads, 2), log);
    const tah2 = values["no-tah2"] || values["no-speed"] ? undefined : await benchTah2({ quick, threads, runs, decodeTokens, prefillTokens, cacheDir, patched, runWorker, log });
    await patched.llama.dispose();
    if (!existsSync(path.join(root, "dist", "engine.mjs")))
        throw new Error("no dist/engine.mjs: run `npm run build` first");
    const backbone = path.join(modelDir, "backbone.gguf");

    // calibration: the threshold at which ~7% of decoded tokens iterate (depth 0, and so P(hard), does not depend on it)
    const calibration = await runWorker("tahWorker.ts", { kind: "tah", modelPath: modelDir, threads, decodeTokens, prefillTokens, thresholds: [1] });
    const pHard = [...(calibration.decodePHard ?? [])].sort((a, b) => a - b);
    const index = Math.min(pHard.length - 1, Math.floor(pHard.length * 0.93));
    const threshold7 = (pHard[index - 1] + pHard[index]) / 2;
    log(`threshold for ~7% iterated: ${threshold7.toFixed(4)}`);

    const series: Series[] = [
        { label: "0% iterated", limit: 1, target: targets.decode0, decode: [], prefill: [], decodeShare: [], prefillShare: [], breakdowns: [] },
        { label: "~7% iterated", limit: 1, target: targets.decode7, decode: [], prefill: [], decodeShare: [], prefillShare: [], breakdowns: [] },
        { label: "100% iterated", limit: 0.5, target: targets.decode100, decode: [], prefill: [], decodeShare: [], prefillShare: [], breakdowns: [] }
    ];
    const thresholds = [1, threshold7, 0];
    const baseline = { decode: [] as number[], prefill: [] as number[], rss: 0 };
    let tahRss = 0;
    // each TaH configuration right after a baseline run of its own: the machine's load drifts, pairs share it
    for (let run = 0; run < (values["no-speed"] ? 0 : runs); run++) {
        for (const [i, threshold] of thresholds.entries()) {
            log(`run ${run + 1}/${runs}, ${series[i].label}: baseline, then TaH`);
            const base = await runWorker("baselineWorker.ts", { kind: "baseline", modelPath: backbone, threads, decodeTokens, prefillTokens });
            if (base.buildType !== "prebuilt")
                throw new Error(`the baseline loaded a ${base.buildType} binary, not node-llama-cpp's prebuilt one`);
            const tah = await runWorker("tahWorker.ts", { kind: "tah", modelPath: modelDir, threads, decodeTokens, prefillTokens, thresholds: [threshold] });
            const baseDecode = base.samples[0].decodeTps;
            const basePrefill = base.samples[0].prefillTps;
            baseline.decode.push(baseDecode);
            baseline.prefill.push(basePrefill);
            baseline.rss = Math.max(baseline.rss, base.rssBytes);
            tahRss = Math.max(tahRss, tah.rssBytes);
            const sample = tah.samples[0];
            const entry = series[i];
            entry.decode.push(sample.decodeTps / baseDecode);
            entry.prefill.push(sample.prefillTps / basePrefill);
            entry.decodeShare.push(sample.iteratedShare);
            entry.prefillShare.push(sample.prefillIteratedShare);
            if (sample.breakdown !== undefined)
                entry.breakdowns.push(sample.breakdown);
        }
    }
    for (const entry of series)
        entry.limit = 1 / (1 + median(entry.decodeShare));
    log(`speed results:\n${renderReport(series, baseline, threshold7, [], tahRss, Date.now() - started)}`);

    const replays: ReplayResult[] = [];
    let llamaCpp: ReplayBaselineResult | undefined;
    if (!values["no-replay"]) {
        log("inline completion replay (TaH engine process, then the same requests on plain llama.cpp)");
        const replay = await replayTyping(modelDir, { threads, keystrokes: quick ? 12 : 24, contextSize: replayContextSize, threshold: { iterateShare: 0.07 }, chatTokens: quick ? 300 : 2000 }, log);
        replays.push(replay);
        mkdirSync(outDir, { recursive: true });
        writeFileSync(path.join(outDir, "replay-partial.json"), `${JSON.stringify(replay)}\n`);
        if (replay.plain.priming !== undefined) {
            const suffixTokens = /carry (\d+) suffix tokens/.exec(replay.warmUpLog ?? "");
            llamaCpp = await runJsonWorker<ReplayBaselineResult>("replayBaselineWorker.ts", {
                modelPath: backbone, threads, contextSize: replayContextSize, maxSuffixTokens: suffixTokens === null ? 64 : Number(suffixTokens[1]),
                priming: replay.plain.priming, requests: replay.plain.requests
            });
            if (llamaCpp.buildType !== "prebuilt")
                throw new Error(`the replay baseline loaded a ${llamaCpp.buildType} binary, not node-llama-cpp's prebuilt one`);
        }
        const defaultModel = path.join(root, "models", "tah-code-default");
        if (existsSync(path.join(defaultModel, "tah-model.json")))
            replays.push(await replayTyping(defaultModel, { threads, keystrokes: quick ? 40 : 120, contextSize: 2048, threshold: null }, log));
    }

    const report = renderReport(series, baseline, threshold7, replays, tahRss, Date.now() - started, llamaCpp) + (tah2 === undefined ? "" : `\n${renderTah2Section(tah2).join("\n")}`);
    mkdirSync(outDir, { recursive: true });
    const name = quick ? "latest-quick" : values["no-replay"] ? "speed-only" : values["no-speed"] ? "replay-only" : "latest";
    writeFileSync(path.join(outDir, `${name}.md`), report);
    writeFileSync(path.join(outDir, `${name}.json`), `${JSON.stringify({ shape, threads, runs, threshold7, baseline, series, replays, llamaCpp, tahRss, tah2, node: process.version, cpus: os.cpus().length, date: new Date().toISOString() }, null, 2)}\n`);
    const points: ChartPoint[] = series.map((entry) => ({
        share: median(entry.decodeShare),
        tps: median(entry.decode) * median(baseline.decode),
        low: Math.min(...entry.decode) * median(baseline.decode),
        high: Math.max(...entry.decode) * median(baseline.decode)
    }));
    const chartSeries: ChartSeries[] = [
        ...(values["no-speed"] ? [] : [{ label: `TaH v1, ${shape.name}`, color: "#c0392b", baselineTps: median(baseline.decode), points }]),
        ...(tah2 === undefined ? [] : [tah2ChartSeries(tah2)])
    ];
    if (chartSeries.length > 0)
        writeFileSync(path.join(outDir, `${name}.svg`), decodeChart(chartSeries, `Decode, ${threads} thread(s)`));
    console.log(report);
}

function bytes(value: number): string {
    return `${(value / (1 << 20)).toFixed(0)} MiB`;
}

function renderReport(series: Series[], baseline: { decode: number[]; prefill: number[]; rss: number }, threshold7: number, replays: ReplayResult[], tahRss: number, elapsedMs: number, llamaCpp?: ReplayBaselineResult): string {
    const lines: string[] = [];
    const mark = (value: number, target: number | undefined): string => target === undefined ? "" : value >= target ? " ✓" : " ✗";
    lines.push(`# TaH Copilot benchmark — ${shape.name}${quick ? " (quick)" : ""}`, "");
    lines.push(`${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, ${threads} thread(s), ${runs} runs (medians, range in brackets), Node ${process.version}. ` +
        `Baseline: node-llama-cpp 3.21.1's prebuilt CPU binary, same Q8_0 backbone, same threads, run just before each TaH configuration (ratios pair the two). ` +
        `Decode = ${decodeTokens} tokens, one per step, fed from real source (teacher forcing); prefill = ${prefillTokens} tokens. ` +
        `~7% uses threshold ${threshold7.toFixed(4)}, calibrated on P(hard) of the decoded tokens.`, "");
    const speedMeasured = baseline.decode.length > 0;
    if (speedMeasured)
        lines.push(...speedSections(series, baseline, mark));
    else
        lines.push("Sections 1–3 (speed against the baseline) were not measured in this run (--no-speed).");
    lines.push("", ...replaySection(replays, llamaCpp));
    const kvPerToken = 2 * shape.nLayer * shape.nHeadKv * shape.headDim * 2;
    lines.push("", "## 5. Memory", "");
    lines.push("| | resident memory | KV bytes per token (f16 cache) |", "|---|---|---|");
    if (speedMeasured) {
        const share7 = median(series[1].decodeShare);
        lines.push(`| baseline process | ${bytes(baseline.rss)} | ${kvPerToken.toLocaleString("en")} |`);
        lines.push(`| TaH worker process | ${bytes(tahRss)} | ${Math.round(kvPerToken * (1 + share7)).toLocaleString("en")} at ~7% iterated (a depth-1 cell per iterated token), ${(2 * kvPerToken).toLocaleString("en")} at 100% |`);
    }
    for (const replay of replays) {
        if (replay.rssBytes !== undefined)
            lines.push(`| engine process (${replay.model}, after the replay${replay.chatTokens !== undefined ? ` and a ${replay.chatTokens}-token chat` : ""}) | ${bytes(replay.rssBytes)} | |`);
        if (replay.completionKvBytes !== undefined)
            lines.push(`| completion context of ${replay.model} (${replay.documentSequences ?? 1} document sequence(s), context ${replay.model === replays[0].model ? replayContextSize : 2048}) | ${bytes(replay.completionKvBytes)} of KV, allocated at load | |`);
    }
    lines.push("", `Finished in ${(elapsedMs / 1000).toFixed(0)} s.`, "");
    return lines.join("\n");
}

/** Sections 1–3: each configuration's speed as a ratio to the baseline, and where its time goes. */
function speedSections(series: Series[], baseline: { decode: number[]; prefill: number[] }, mark: (value: number, target: number | undefined) => string): string[] {
    const lines: string[] = [];
    lines.push(`Baseline: decode ${median(baseline.decode).toFixed(1)} tokens/s (${spread(baseline.decode)}), prefill ${median(baseline.prefill).toFixed(1)} tokens/s (${spread(baseline.prefill)}).`, "");
    lines.push("## 1–2. Speed as a ratio to the baseline", "");
    lines.push("| | share iterated (decode / prefill) | decode ratio | limit | target | prefill ratio |", "|---|---|---|---|---|---|");
    for (const entry of series) {
        const decode = median(entry.decode);
        const prefillTarget = entry.label.startsWith("~7") ? targets.prefill7 : undefined;
        lines.push(`| ${entry.label} | ${(median(entry.decodeShare) * 100).toFixed(1)}% / ${(median(entry.prefillShare) * 100).toFixed(1)}% | ${decode.toFixed(3)} [${spread(entry.decode)}]${mark(decode, entry.target)} | ${entry.limit.toFixed(3)} | ${entry.target ?? "–"} | ${median(entry.prefill).toFixed(3)} [${spread(entry.prefill)}]${mark(median(entry.prefill), prefillTarget)}${prefillTarget !== undefined ? ` (target ${prefillTarget})` : ""} |`);
    }
    lines.push("", "## 3. Where the time goes, per decoded token (ms, medians)", "");
    lines.push("| | depth 0 | decider | top-k, soft embedding, logit sum, records | LoRA attach/detach calls | depth 1 (incl. graph rebuild) | sampling | binding + JS |", "|---|---|---|---|---|---|---|---|");
    for (const entry of series) {
        const m = (key: keyof StepBreakdown): string => median(entry.breakdowns.map((b) => b[key])).toFixed(2);
        lines.push(`| ${entry.label} | ${m("depth0Ms")} | ${m("deciderMs")} | ${m("selectMs")} | ${m("loraMs")} | ${m("depth1Ms")} | ${m("sampleMs")} | ${m("otherMs")} |`);
    }
    return lines;
}

function goal(met: boolean, detail: string): string {
    return met ? `met (${detail})` : `**missed** (${detail})`;
}

function ms(value: number): string {
    return Number.isFinite(value) ? value.toFixed(0) : "–";
}

/** Section 4: the typing replay, each number of issue 12's goal marked met or missed. */
function replaySection(replays: ReplayResult[], llamaCpp: ReplayBaselineResult | undefined): string[] {
    const lines: string[] = [];
    lines.push("## 4. Inline completion: typing replay through the engine process and the completion service", "");
    if (replays.length === 0)
        return [...lines, "Not in this report (measured after the speed runs; absent with --no-replay).", ""];
    const [bench] = replays;
    const pass = bench.plain;
    lines.push(`${bench.model}, ${bench.threads} thread(s), typing ${bench.keystrokes} characters of real code one by one with ${replaySettingsLine()}; ` +
        `the file is opened first (a priming request of ${ms(pass.primingMs)} ms, not counted). Prompt: ${pass.order ?? "?"}. ${bench.warmUpLog ?? "no warm-up logged"}. ` +
        `Threshold ${bench.threshold?.toFixed(4) ?? "the model's own"}, calibrated on this replay's generated tokens for ~7%: ${iteratedLine(pass)}.`, "");
    lines.push("| | TaH engine | goal | result |", "|---|---|---|---|");
    const p50 = percentile(pass.latencies, 0.5);
    const p95 = percentile(pass.latencies, 0.95);
    const first50 = percentile(pass.firstTokenLatencies, 0.5);
    lines.push(`| keystroke → suggestion p50 / p95 (ms), ${pass.engineRequests} engine requests, ${pass.cacheHits} cache hits, ${pass.skipped} skipped | ${ms(p50)} / ${ms(p95)} | ≤ ${replayGoals.p50Ms} / ≤ ${replayGoals.p95Ms} | ${goal(p50 <= replayGoals.p50Ms && p95 <= replayGoals.p95Ms, `${(p50 / replayGoals.p50Ms).toFixed(2)}× / ${(p95 / replayGoals.p95Ms).toFixed(2)}× the goal`)} |`);
    lines.push(`| first token p50 / p95 (ms) | ${ms(first50)} / ${ms(percentile(pass.firstTokenLatencies, 0.95))} | ≤ ${replayGoals.firstTokenMs} | ${goal(first50 <= replayGoals.firstTokenMs, `${(first50 / replayGoals.firstTokenMs).toFixed(2)}× the goal`)} |`);
    lines.push(`| prompt tokens evaluated per keystroke (median share; prompt ${ms(median(pass.promptTokens))} tokens) | ${(median(pass.evaluatedShares) * 100).toFixed(1)}% | – | ${llamaCpp !== undefined ? `llama.cpp replay: ${(median(llamaCpp.evaluatedShares) * 100).toFixed(1)}%` : ""} |`);
    lines.push(`| where the time goes, medians (ms): prefill / decode / protocol, process and service | ${median(pass.prefillMs).toFixed(0)} / ${median(pass.decodeMs).toFixed(0)} / ${median(pass.overheads).toFixed(1)} | – | |`);
    lines.push(`| tokens per suggestion (median), suggestions ended by the time budget | ${median(pass.suggestionTokens)}, ${pass.deadlineStops} of ${pass.engineRequests} | – | |`);
    if (llamaCpp !== undefined) {
        const base50 = percentile(llamaCpp.latencies, 0.5);
        const ratio = base50 / p50;
        lines.push(`| speed vs plain llama.cpp (same requests, prompt ${llamaCpp.order}, KV reuse, and as many tokens generated per request; its p50 / p95 ${ms(base50)} / ${ms(percentile(llamaCpp.latencies, 0.95))} ms, first token p50 ${ms(percentile(llamaCpp.firstTokenLatencies, 0.5))} ms) | ${ratio.toFixed(3)}× | ≥ ${replayGoals.vsLlamaCpp}× | ${goal(ratio >= replayGoals.vsLlamaCpp, `llama.cpp p50 / TaH p50`)} |`);
    }
    if (bench.withChat !== undefined) {
        const chat50 = percentile(bench.withChat.latencies, 0.5);
        const ratio = chat50 / p50;
        lines.push(`| the same typing with a ${bench.chatTokens ?? "?"}-token chat held (p50 / p95 ${ms(chat50)} / ${ms(percentile(bench.withChat.latencies, 0.95))} ms) | ${ratio.toFixed(3)}× the time | 1 ± ${replayGoals.withChat} | ${goal(Math.abs(ratio - 1) <= replayGoals.withChat, "p50 with the chat / p50 without")} |`);
    }
    for (const replay of replays.slice(1)) {
        const value = percentile(replay.plain.latencies, 0.5);
        lines.push(`| ${replay.model}: keystroke → suggestion p50 / p95 (ms), ${replay.plain.engineRequests} engine requests, ${replay.plain.cacheHits} cache hits; prompt ${replay.plain.order ?? "?"}, ${(median(replay.plain.evaluatedShares) * 100).toFixed(1)}% evaluated per keystroke; its own threshold, ${iteratedLine(replay.plain)}; prefill / decode medians ${median(replay.plain.prefillMs).toFixed(0)} / ${median(replay.plain.decodeMs).toFixed(0)} ms, ${median(replay.plain.suggestionTokens)} tokens per suggestion | ${ms(value)} / ${ms(percentile(replay.plain.latencies, 0.95))} | ≤ ${replayGoals.defaultP50Ms} | ${goal(value <= replayGoals.defaultP50Ms, `${(value / replayGoals.defaultP50Ms).toFixed(2)}× the goal`)} |`);
    }
    lines.push("", "### Quality: each engine suggestion against what was really typed next, under each hard-token policy", "");
    lines.push("| model | policy | shown | characters shown | of them right | first line exactly right |", "|---|---|---|---|---|---|");
    for (const replay of replays) {
        const requests = replay.plain.engineRequests;
        let best: { policy: string; share: number } | undefined;
        for (const policy of hardTokenPolicies) {
            const q = replay.plain.quality[policy];
            const share = q.shownChars > 0 ? q.matchedChars / q.shownChars : 0;
            if (best === undefined || share > best.share)
                best = { policy, share };
            lines.push(`| ${replay.model} | ${policy} | ${q.shown} of ${requests} | ${q.shownChars} | ${q.matchedChars} (${(share * 100).toFixed(1)}%) | ${q.firstLineExact} (${q.shown > 0 ? ((q.firstLineExact / q.shown) * 100).toFixed(1) : "0"}% of shown) |`);
        }
        lines.push(`| ${replay.model} | **higher share of shown characters right** | ${best?.policy ?? "–"} | | | |`);
    }
    lines.push("", "Random weights (the bench shape) never match real code: their quality rows only show that suggestions are non-empty text; the default model's rows are the measure.", "");
    return lines;
}

function iteratedLine(pass: TypingPass): string {
    const generated = pass.suggestionTokens.reduce((sum, tokens) => sum + tokens, 0);
    return `${pass.iteratedTokens} of ${generated} generated tokens iterated (${generated > 0 ? ((pass.iteratedTokens / generated) * 100).toFixed(1) : "0"}%)`;
}

function replaySettingsLine(): string {
    return "a window of 128–143 prefix lines and 32 suffix lines, 16 tokens and 500 ms at most, single line at a line's end inside code";
}

await main();
