/**
 * TaH2's cost over plain llama.cpp, for `npm run bench`: a random-weight model of TaH2-1.7B-max2's shape (Qwen3-1.7B
 * with the recipe's updater and decider, tah2-inference.md §1.2-1.6; the tiny shape in --quick) decoding and
 * prefilling with 0%, ~7% and 100% of tokens continuing past depth 0, each as a ratio to node-llama-cpp's prebuilt
 * binary on the same backbone, measured just before it. The same workers as TaH v1's rows (bench/workers/).
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { PatchedLlama } from "../src/engine/native/loadPatchedLlama.js";
import { gguf } from "../src/gguf/ggufTypes.js";
import { type GgufTensor, writeGguf } from "../src/gguf/ggufWriter.js";
import type { StepBreakdown, WorkerRequest, WorkerResult } from "./benchTypes.js";
import type { ChartPoint, ChartSeries } from "./chart.js";
import { type BackboneShape, matrix, vector, writeBackbone } from "./randomTahModel.js";

export interface Tah2BenchShape extends BackboneShape {
    updaterWidth: number;
    deciderWidth: number;
    maxIter: number;
}

/** TaH2-1.7B-max2: Qwen3-1.7B, updater and decider MLP width 2048, decider top-k = hidden size, 2 depths. */
export const tah2_1_7b_max2: Tah2BenchShape = {
    name: "tah2-1.7b-max2-shape", nLayer: 28, nEmbd: 2048, nHead: 16, nHeadKv: 8, headDim: 128, nFf: 6144, nVocab: 151_936,
    updaterWidth: 2048, deciderWidth: 2048, maxIter: 2
};

/** The same code paths in seconds (--quick). */
export const tinyTah2Shape: Tah2BenchShape = {
    name: "tah2-tiny-shape", nLayer: 8, nEmbd: 256, nHead: 4, nHeadKv: 2, headDim: 64, nFf: 768, nVocab: 8192,
    updaterWidth: 256, deciderWidth: 256, maxIter: 2
};

async function writeTah2Nets(file: string, s: Tah2BenchShape): Promise<void> {
    const h = s.nEmbd;
    const swiGlu = (prefix: string, width: number): GgufTensor[] => [
        matrix(`${prefix}mlp.gate_proj.weight`, h, width, "f32"), matrix(`${prefix}mlp.up_proj.weight`, h, width, "f32"),
        matrix(`${prefix}mlp.down_proj.weight`, width, h, "f32")
    ];
    const tensors: GgufTensor[] = [
        vector("updater.norm_prev.weight", h, 1), vector("updater.norm_last.weight", h, 1), matrix("updater.projection.weight", 2 * h, h, "f32"),
        vector("updater.norm_pre_mlp.weight", h, 1), ...swiGlu("updater.", s.updaterWidth), vector("updater.norm_out.weight", h, 1),
        vector("decider.norm_first.weight", h, 1), vector("decider.norm_last.weight", h, 1), vector("decider.norm_l.weight", h, 1),
        matrix("decider.input_proj.weight", 3 * h, h, "f32"), ...swiGlu("decider.", s.deciderWidth), vector("decider.norm_out.weight", h, 1),
        matrix("decider.score.weight", h, 1, "f32")
    ];
    await writeGguf(file, {
        metadata: {
            "general.architecture": gguf.string("tah2-nets"),
            "tah2.hidden_size": gguf.uint32(h),
            "tah2.updater.width": gguf.uint32(s.updaterWidth),
            "tah2.decider.width": gguf.uint32(s.deciderWidth),
            "tah2.decider.top_k": gguf.uint32(h),
            "tah2.rms_norm_epsilon": gguf.float32(1e-6),
            "tah.threshold": gguf.float32(0.5),
            "tah.max_iter": gguf.uint32(s.maxIter)
        },
        tensors,
        sync: false
    });
}

/** A random TaH2 model folder of `shape` with a Q8_0 backbone, generated once under `cacheDir`. */
export async function randomTah2Model(cacheDir: string, shape: Tah2BenchShape, patched: PatchedLlama, threads: number, log: (message: string) => void): Promise<string> {
    const folder = path.join(cacheDir, `${shape.name}-q8_0-v1`);
    if (existsSync(path.join(folder, "tah-model.json")))
        return folder;
    const partial = `${folder}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    try {
        log(`generating ${shape.name} (random weights, F16) …`);
        await writeBackbone(path.join(partial, "backbone-f16.gguf"), shape);
        log("quantizing the backbone to Q8_0 with llama.cpp's quantizer …");
        await patched.bindings.tahQuantize(path.join(partial, "backbone-f16.gguf"), path.join(partial, "backbone.gguf"), { ftype: 7, threads });
        await rm(path.join(partial, "backbone-f16.gguf"));
        await writeTah2Nets(path.join(partial, "tah2.gguf"), shape);
        await writeFile(path.join(partial, "tah-model.json"), `${JSON.stringify({
            format: "tah-copilot-model", version: 1, generation: 2, maxIter: shape.maxIter, name: `${shape.name} (random weights)`,
            backbone: "backbone.gguf", tah2: "tah2.gguf", source: { checkpoint: "bench/tah2Bench.ts", type: "q8_0" }
        }, null, 4)}\n`);
        await rm(folder, { recursive: true, force: true });
        await rename(partial, folder);
        return folder;
    } catch (error) {
        await rm(partial, { recursive: true, force: true });
        throw error;
    }
}

export interface Tah2BenchOptions {
    quick: boolean;
    threads: number;
    runs: number;
    decodeTokens: number;
    prefillTokens: number;
    cacheDir: string;
    patched: PatchedLlama;
    runWorker: (file: string, request: WorkerRequest) => Promise<WorkerResult>;
    log: (message: string) => void;
}

interface Tah2Series {
    label: string;
    decode: number[];
    prefill: number[];
    decodeShare: number[];
    prefillShare: number[];
    breakdowns: StepBreakdown[];
}

export interface Tah2BenchResult {
    shape: Tah2BenchShape;
    threshold: number;
    baseline: { decode: number[]; prefill: number[] };
    series: Tah2Series[];
}

function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function spread(values: readonly number[]): string {
    return `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`;
}

export async function benchTah2(o: Tah2BenchOptions): Promise<Tah2BenchResult> {
    const shape = o.quick ? tinyTah2Shape : tah2_1_7b_max2;
    const modelDir = await randomTah2Model(o.cacheDir, shape, o.patched, Math.max(o.threads, 2), o.log);
    const backbone = path.join(modelDir, "backbone.gguf");
    const request = { kind: "tah", modelPath: modelDir, threads: o.threads, decodeTokens: o.decodeTokens, prefillTokens: o.prefillTokens } as const;
    // the threshold at which ~7% of decoded tokens continue (g_0 at depth 0 does not depend on it), as TaH v1's rows
    const calibration = await o.runWorker("tahWorker.ts", { ...request, thresholds: [1] });
    const g = [...(calibration.decodePHard ?? [])].sort((a, b) => a - b);
    const index = Math.min(g.length - 1, Math.floor(g.length * 0.93));
    const threshold = (g[index - 1] + g[index]) / 2;
    o.log(`TaH2: threshold for ~7% continuing: ${threshold.toFixed(4)}`);

    const labels = ["0% continuing", "~7% continuing", "100% continuing"];
    const series: Tah2Series[] = labels.map((label) => ({ label, decode: [], prefill: [], decodeShare: [], prefillShare: [], breakdowns: [] }));
    const baseline = { decode: [] as number[], prefill: [] as number[] };
    for (let run = 0; run < o.runs; run++) {
        for (const [i, t] of [1, threshold, 0].entries()) {
            o.log(`TaH2 run ${run + 1}/${o.runs}, ${labels[i]}: baseline, then TaH2`);
            const base = await o.runWorker("baselineWorker.ts", { ...request, kind: "baseline", modelPath: backbone });
            if (base.buildType !== "prebuilt")
                throw new Error(`the baseline loaded a ${base.buildType} binary, not node-llama-cpp's prebuilt one`);
            const sample = (await o.runWorker("tahWorker.ts", { ...request, thresholds: [t] })).samples[0];
            baseline.decode.push(base.samples[0].decodeTps);
            baseline.prefill.push(base.samples[0].prefillTps);
            series[i].decode.push(sample.decodeTps / base.samples[0].decodeTps);
            series[i].prefill.push(sample.prefillTps / base.samples[0].prefillTps);
            series[i].decodeShare.push(sample.iteratedShare);
            series[i].prefillShare.push(sample.prefillIteratedShare);
            if (sample.breakdown !== undefined)
                series[i].breakdowns.push(sample.breakdown);
        }
    }
    return { shape, threshold, baseline, series };
}

/** The report's TaH2 section, as markdown lines. */
export function renderTah2Section(result: Tah2BenchResult): string[] {
    const lines = [`## 6. TaH2 (${result.shape.name}, ${result.shape.maxIter} depths): speed as a ratio to the baseline`, ""];
    lines.push(`Random weights of TaH2-1.7B-max2's shape, Q8_0 backbone, updater and decider in f32 on the CPU. Baseline: decode ${median(result.baseline.decode).toFixed(1)} tokens/s ` +
        `(${spread(result.baseline.decode)}), prefill ${median(result.baseline.prefill).toFixed(1)} tokens/s (${spread(result.baseline.prefill)}). ` +
        `~7% uses threshold ${result.threshold.toFixed(4)}, calibrated on the decoded tokens' g_0. The limit is 1 / (1 + share): the deeper pass alone.`, "");
    lines.push("| | share continuing (decode / prefill) | decode ratio | limit | prefill ratio |", "|---|---|---|---|---|");
    for (const entry of result.series) {
        const share = median(entry.decodeShare);
        lines.push(`| ${entry.label} | ${(share * 100).toFixed(1)}% / ${(median(entry.prefillShare) * 100).toFixed(1)}% | ${median(entry.decode).toFixed(3)} [${spread(entry.decode)}] | ${(1 / (1 + share)).toFixed(3)} | ${median(entry.prefill).toFixed(3)} [${spread(entry.prefill)}] |`);
    }
    lines.push("", "Per decoded token (ms, medians):", "");
    lines.push("| | depth 0 | decider | top-k, updater, mixture, records | deeper depth | sampling | binding + JS |", "|---|---|---|---|---|---|---|");
    for (const entry of result.series) {
        const m = (key: keyof StepBreakdown): string => median(entry.breakdowns.map((b) => b[key])).toFixed(2);
        lines.push(`| ${entry.label} | ${m("depth0Ms")} | ${m("deciderMs")} | ${m("selectMs")} | ${m("depth1Ms")} | ${m("sampleMs")} | ${m("otherMs")} |`);
    }
    lines.push("");
    return lines;
}

/** The decode chart of the TaH2 rows, in the v1 chart's form. */
/** TaH2's series of the decode chart. */
export function tah2ChartSeries(result: Tah2BenchResult): ChartSeries {
    const base = median(result.baseline.decode);
    const points: ChartPoint[] = result.series.map((entry) => ({
        share: median(entry.decodeShare), tps: median(entry.decode) * base, low: Math.min(...entry.decode) * base, high: Math.max(...entry.decode) * base
    }));
    return { label: `TaH2, ${result.shape.name}`, color: "#2980b9", baselineTps: base, points };
}
