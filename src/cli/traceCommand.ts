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

Prints one record per position, prompt and greedily generated: position, token id, P(hard) (null for a
plain model), whether the position iterated, and the ten highest final logits as [id, value] pairs.
Threshold 0 makes every token iterate; threshold 1 makes none.`;

interface TraceLine {
    position: number;
    token: number;
    piece: string;
    pHard: number | null;
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
    const pHard = line.pHard === null ? "null" : line.pHard.toFixed(4);
    const top = line.top.map(([id, value]) => `[${id}, ${value.toFixed(4)}]`).join(" ");
    return `${String(line.position).padStart(5)}  ${String(line.token).padStart(7)}  ${JSON.stringify(line.piece).padEnd(14)}  ${pHard.padStart(6)}  ${line.iterated ? "yes" : "no "}  ${top}`;
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
            const print = (record: TokenRecord): void => {
                const line: TraceLine = {
                    position: record.position,
                    token: record.token,
                    piece: model.detokenize([record.token], true),
                    pHard: record.pHard,
                    iterated: record.iterated,
                    top: record.after.map((candidate) => [candidate.token, candidate.logit])
                };
                console.log(values.json ? JSON.stringify(line) : formatLine(line));
            };
            if (!values.json)
                console.log(`model ${model.name} (${model.kind}), threshold ${threshold ?? model.defaultThreshold}, backend ${patched.description}\n  pos    token  piece           P(hard) iter  top-10 final logits`);
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
