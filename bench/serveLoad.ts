/**
 * tsx bench/serveLoad.ts [--seconds 60] [--clients 8] [--burst 200] [--threads 1] [--parallel 1] [--model DIR] [--out FILE]
 *
 * A load test of `tah serve` on loopback: the server runs as its own process (as a user runs it) on the shipped
 * default model; N clients (8) loop for the given time, each request a chat (the official openai client) or an
 * /infill as llama.vscode sends it, in a fixed alternation; then a burst of simultaneous requests tests the queue's
 * bound. Reports throughput, p50/p95 latency per kind, errors (anything but a 2xx; 0 expected under the steady
 * load), the burst's 429s, and the server's RSS (its own /metrics) before and after. Bounded in time: the whole run
 * ends by --seconds plus a fixed margin, the server is stopped in every case.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import OpenAI from "openai";
import parsePrometheusTextFormat from "parse-prometheus-text-format";

const { values } = parseArgs({
    options: {
        seconds: { type: "string", default: "60" },
        clients: { type: "string", default: "8" },
        burst: { type: "string", default: "200" },
        threads: { type: "string", default: "1" },
        parallel: { type: "string", default: "1" },
        "queue-size": { type: "string", default: "16" },
        model: { type: "string" },
        out: { type: "string" }
    }
});
const root = path.resolve(import.meta.dirname, "..");
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const burstSize = Number(values.burst);
const modelDir = values.model ?? path.join(root, "models", "tah-code-default");
const apiKey = "serve-load-key";
/** Past this the run is stopped whatever it is doing: the steady phase, the burst and the margins. */
const hardLimitMs = (seconds + 120) * 1000;

function percentile(sorted: readonly number[], p: number): number {
    if (sorted.length === 0)
        return Number.NaN;
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const infillBodies = [
    { input_prefix: "def area(r):\n", prompt: "    return ", input_suffix: "\n" },
    { input_prefix: "import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n", prompt: "        ", input_suffix: "\n\n\ndef main():\n    pass\n" },
    { input_prefix: "export function sum(values: number[]): number {\n    let total = 0;\n", prompt: "    ", input_suffix: "\n    return total;\n}\n" }
].map((body) => ({
    ...body, input_extra: [{ text: "def helper():\n    return 1\n", time: 0, filename: "helper.py" }], n_predict: 32, top_k: 40, top_p: 0.99, stream: false,
    samplers: ["top_k", "top_p", "infill"], cache_prompt: true, t_max_prompt_ms: 500, t_max_predict_ms: 2500
}));
const chatQuestions = ["Write a Python function that reverses a string.", "What does `git rebase` do?", "Sort a list in TypeScript."];

async function startServerProcess(): Promise<{ url: string; stop: () => Promise<void> }> {
    const child = spawn(process.execPath, [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), path.join(root, "src", "cli", "main.ts"), "serve",
        "--model", modelDir, "--threads", values.threads, "--port", "0", "--api-key", apiKey, "--gpu", "cpu", "--ctx-size", "1024", "--queue-size", values["queue-size"], "--parallel", values.parallel], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const url = await new Promise<string>((resolve, reject) => {
        child.once("exit", (code) => reject(new Error(`tah serve exited with ${code} before listening`)));
        createInterface({ input: child.stdout }).on("line", (line) => {
            try {
                const record = JSON.parse(line) as { msg?: string; url?: string };
                if (record.msg === "listening" && record.url !== undefined)
                    resolve(record.url);
            } catch {
                // not a log record
            }
        });
    });
    return { url, stop: async () => { child.kill("SIGTERM"); await exited; } };
}

async function residentBytes(url: string): Promise<number> {
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${apiKey}` } })).text();
    return Number(parsePrometheusTextFormat(text).find((family) => family.name === "tah_process_resident_memory_bytes")?.metrics[0].value);
}

async function infill(url: string, body: unknown): Promise<number> {
    const response = await fetch(`${url}/infill`, { method: "POST", headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    await response.arrayBuffer();
    return response.status;
}

interface KindStats { latenciesMs: number[]; errors: number; }

async function main(): Promise<void> {
    const started = Date.now();
    const server = await startServerProcess();
    const watchdog = setTimeout(() => {
        console.error(`serveLoad: past ${hardLimitMs / 1000} s, stopping`);
        void server.stop().then(() => process.exit(1));
    }, hardLimitMs);
    try {
        const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
        // one request of each kind first, so the steady phase measures a warm server
        await infill(server.url, infillBodies[0]);
        await client.chat.completions.create({ model: "x", messages: [{ role: "user", content: "hi" }], max_tokens: 4 });
        const rssBefore = await residentBytes(server.url);

        const stats: Record<"chat" | "infill", KindStats> = { chat: { latenciesMs: [], errors: 0 }, infill: { latenciesMs: [], errors: 0 } };
        const errorSamples: string[] = [];
        const steadyStart = performance.now();
        const deadline = steadyStart + seconds * 1000;
        await Promise.all(Array.from({ length: clients }, async (_, clientIndex) => {
            for (let i = 0; performance.now() < deadline; i++) {
                // every third request a chat, the rest infill: ghost text is what an editor sends most
                const kind = (clientIndex + i) % 3 === 0 ? "chat" : "infill";
                const begin = performance.now();
                try {
                    if (kind === "chat")
                        await client.chat.completions.create({ model: "x", messages: [{ role: "user", content: chatQuestions[i % chatQuestions.length] }], max_tokens: 32 });
                    else {
                        const status = await infill(server.url, infillBodies[(clientIndex + i) % infillBodies.length]);
                        if (status !== 200)
                            throw new Error(`HTTP ${status}`);
                    }
                    stats[kind].latenciesMs.push(performance.now() - begin);
                } catch (error) {
                    stats[kind].errors++;
                    if (errorSamples.length < 5)
                        errorSamples.push(String(error));
                }
            }
        }));
        const steadySeconds = (performance.now() - steadyStart) / 1000;

        const burst = await Promise.all(Array.from({ length: burstSize }, (_, i) => infill(server.url, { ...infillBodies[i % infillBodies.length], n_predict: 8 })));
        const rssAfter = await residentBytes(server.url);

        const summarize = (kind: KindStats): Record<string, number> => {
            const sorted = [...kind.latenciesMs].sort((a, b) => a - b);
            return { requests: sorted.length, errors: kind.errors, p50Ms: Math.round(percentile(sorted, 50)), p95Ms: Math.round(percentile(sorted, 95)) };
        };
        const all = [...stats.chat.latenciesMs, ...stats.infill.latenciesMs].sort((a, b) => a - b);
        const report = {
            clients, seconds: Number(steadySeconds.toFixed(1)), threads: Number(values.threads), parallel: Number(values.parallel), queueSize: Number(values["queue-size"]),
            throughputPerSecond: Number((all.length / steadySeconds).toFixed(2)),
            all: { requests: all.length, errors: stats.chat.errors + stats.infill.errors, p50Ms: Math.round(percentile(all, 50)), p95Ms: Math.round(percentile(all, 95)) },
            chat: summarize(stats.chat),
            infill: summarize(stats.infill),
            burst: { requests: burstSize, ok: burst.filter((status) => status === 200).length, rejected429: burst.filter((status) => status === 429).length, other: burst.filter((status) => status !== 200 && status !== 429).length },
            rssMiB: { before: Number((rssBefore / 2 ** 20).toFixed(1)), after: Number((rssAfter / 2 ** 20).toFixed(1)) },
            errorSamples,
            wallSeconds: Math.round((Date.now() - started) / 1000)
        };
        console.log(JSON.stringify(report, null, 2));
        if (values.out !== undefined)
            writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
        if (report.all.errors > 0 || report.burst.other > 0)
            process.exitCode = 1;
    } finally {
        clearTimeout(watchdog);
        await server.stop();
    }
}

await main();
