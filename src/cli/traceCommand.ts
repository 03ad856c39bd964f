import { parseArgs } from "node:util";
import { TahContext } from "../engine/evaluator/TahContext.js";
import { greedy } from "../engine/evaluator/sampling.js";
import type { TokenRecord } from "../engine/evaluator/tokenRecords.js";
import { TahModel } from "../engine/model/TahModel.js";
import type { GpuBackend } from "../engine/native/buildIdentity.js";
import { loadPatchedLlama } from "../engine/native/loadPatchedLlama.js";
import { maxThreads } from "../engine/process/requestSchemas.js";
import { UsageError } from "./UsageError.js";

export const traceUsage = `tah trace --model PATH (--prompt TEXT | --tokens 1,2,3) [--steps N] [--threshold T] [--threads N]
          [--batch N] [--gpu auto|cpu|vulkan|cuda] [--json]

Prints one record per position, prompt and greedily generated: position, token id, the deepest depth it ran
(0-based), the decider's probability at each depth it ran at (TaH v1: [P(hard)], also printed as pHard; empty
for a plain model), whether it went deeper than depth 0, and the ten best final candidates as [id, value] pairs:
the summed logits for TaH v1 and a plain model, the mixture's log-probabilities for TaH2.
Threshold 0 makes every token run every depth; threshold 1 makes none go deeper.`;

/** One position of `tah trace --json`. */
export interface TraceLine {
    position: number;
    token: number;
    piece: string;
    /** TaH v1 and plain models only (null for a plain model); TaH2 has pContinue. */
    pHard?: number | null;
    depth: number;
    pContinue: number[];
    iterated: boolean;
    top: Array<[number, number]>;
}

function parseTokens(list: string): number[] {
    const tokens = list.split(",").map((part) => part.trim()).filter((part) => part !== "").map(Number);
    if (tokens.length === 0 || tokens.some((token) => !Number.isInteger(token) || token < 0))
        throw new UsageError(`--tokens must be a comma-separated list of token ids, not "${list}"`);
    return tokens;
}

function positiveInteger(value: string | undefined, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
    if (value === undefined)
        return fallback;
    const number = Number(value);
    if (!Number.isInteger(number) || number < 0 || number > max)
        throw new UsageError(`${name} must be an integer from 0 to ${max}, not "${value}"`);
    return number;
}

function formatLine(line: TraceLine): string {
    const decider = line.pContinue.length === 0 ? "null" : line.pContinue.map((p) => p.toFixed(4)).join(",");
    const top = line.top.map(([id, value]) => `[${id}, ${value.toFixed(4)}]`).join(" ");
    return `${String(line.position).padStart(5)}  ${String(line.token).padStart(7)}  ${JSON.stringify(line.piece).padEnd(14)}  ${String(line.depth).padStart(5)}  ${decider.padEnd(13)}  ${top}`;
}

export async function traceCommand(argv: string[]): Promise<void> {
    const { values } = parseArgs({
        args: argv,
        options: {
            model: { type: "string" },
            prompt: { type: "string" },
            tokens: { type: "string" },
            steps: { type: "string" },
            threshold: { type: "string" },
            threads: { type: "string" },
            batch: { type: "string" },
            gpu: { type: "string", default: "auto" },
            json: { type: "boolean", default: false }
        }
    });
    if (values.model === undefined)
        throw new UsageError("--model is required");
    if ((values.prompt === undefined) === (values.tokens === undefined))
        throw new UsageError("give exactly one of --prompt and --tokens");
    const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
    if (threshold !== undefined && !Number.isFinite(threshold))
        throw new UsageError(`--threshold must be a number, not "${values.threshold}"`);
    if (!["auto", "cpu", "vulkan", "cuda"].includes(values.gpu))
        throw new UsageError(`--gpu must be auto, cpu, vulkan or cuda, not "${values.gpu}"`);
    const steps = positiveInteger(values.steps, "--steps", 0);
    const threads = positiveInteger(values.threads, "--threads", 0, maxThreads);
    const batch = positiveInteger(values.batch, "--batch", 128);

    const patched = await loadPatchedLlama({ gpu: values.gpu as GpuBackend | "auto" });
    const model = await TahModel.load(patched, values.model);
    try {
        const prompt = values.tokens !== undefined ? parseTokens(values.tokens) : model.tokenize(values.prompt!, true);
        if (prompt.length === 0)
            throw new UsageError("the prompt has no tokens");
        const context = await TahContext.create(model, {
            sequences: 1,
            contextSize: prompt.length + steps + 1,
            threads: threads > 0 ? threads : patched.llama.cpuMathCores,
            batchSize: Math.max(1, batch),
            iterationHeadroom: 1
        });
        try {
            const tah2 = model.generation === 2;
            const print = (record: TokenRecord): void => {
                const line: TraceLine = {
                    position: record.position,
                    token: record.token,
                    piece: model.detokenize([record.token], true),
                    ...(tah2 ? {} : { pHard: record.pHard }),
                    depth: record.depth,
                    pContinue: record.pContinue,
                    iterated: record.iterated,
                    top: record.after.map((candidate) => [candidate.token, candidate.logit])
                };
                console.log(values.json ? JSON.stringify(line) : formatLine(line));
            };
            if (!values.json)
                console.log(`model ${model.name} (${model.kind}${tah2 ? `, TaH2 with ${model.maxDepths} depths` : ""}), threshold ${threshold ?? model.defaultThreshold}, backend ${patched.description}\n` +
                    `  pos    token  piece           depth  decider p      top-10 ${tah2 ? "mixture log-probabilities" : "final logits"}`);
            const sequence = context.sequence(0);
            const options = { recordTopN: 10, sample: greedy, ...(threshold !== undefined ? { threshold } : {}) };
            const prefill = await sequence.prefill(prompt, { ...options, recordFrom: 0 });
            prefill.records.forEach(print);
            let next = prefill.nextToken!;
            for (let step = 0; step < steps; step++) {
                const result = await sequence.evaluate([next], options);
                result.records.forEach(print);
                next = result.nextToken!;
            }
        } finally {
            await context.dispose();
        }
    } finally {
        await model.dispose();
        await patched.llama.dispose();
    }
}
