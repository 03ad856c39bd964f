import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { GpuSetting } from "../engine/protocol/engineProtocol.js";
import { maxParallel } from "../engine/process/requestSchemas.js";
import { EngineService } from "../engine/service/EngineService.js";
import { isLoopbackHost } from "../server/auth.js";
import { stdoutLog } from "../server/requestLog.js";
import { startServer } from "../server/serverApp.js";
import { sigintAbort } from "./sigintAbort.js";
import { UsageError } from "./UsageError.js";

export const serveUsage = `tah serve --model PATH [--host H] [--port P] [--api-key KEY | --api-key-file FILE] [--threads N]
          [--ctx-size N] [--gpu auto|cpu|vulkan|cuda] [--threshold T] [--alias NAME] [--n-predict N]
          [--max-tokens N] [--queue-size N] [--max-body BYTES] [--timeout S] [--parallel N]

An HTTP server on the engine: OpenAI's /v1/chat/completions, /v1/completions and /v1/models, llama-server's
/infill, /health and /metrics (Prometheus). Listens on 127.0.0.1:8080 unless told otherwise; beyond loopback an
API key is required, and every request but /health must then send Authorization: Bearer KEY. Logs one JSON
line per request on stdout. See docs/serve.md.
  --n-predict    answer budget when a request names none (256)    --max-tokens  the most a request may ask (4096)
  --queue-size   requests that may wait (16; 429 beyond)         --max-body    request body limit (1048576)
  --timeout      decoding budget of one answer, seconds (600)    --ctx-size    tokens per sequence (4096)
  --parallel     requests answered at once, each on its own sequence of --ctx-size tokens (1)`;

function integer(value: string | undefined, name: string, fallback: number, min: number): number {
    if (value === undefined)
        return fallback;
    const number = Number(value);
    if (!Number.isInteger(number) || number < min)
        throw new UsageError(`${name} must be an integer of at least ${min}, not "${value}"`);
    return number;
}

async function apiKeyOf(key: string | undefined, file: string | undefined): Promise<string | undefined> {
    if (key !== undefined && file !== undefined)
        throw new UsageError("give --api-key or --api-key-file, not both");
    // a key in a file stays out of the process list
    const value = file !== undefined ? (await readFile(file, "utf8")).trim() : key;
    if (value === "")
        throw new UsageError("the API key is empty");
    return value;
}

export async function serveCommand(argv: string[]): Promise<void> {
    const { values } = parseArgs({
        args: argv,
        options: {
            model: { type: "string", short: "m" },
            host: { type: "string", default: "127.0.0.1" },
            port: { type: "string" },
            "api-key": { type: "string" },
            "api-key-file": { type: "string" },
            threads: { type: "string", short: "t" },
            "ctx-size": { type: "string", short: "c" },
            gpu: { type: "string", default: "auto" },
            threshold: { type: "string" },
            alias: { type: "string", short: "a" },
            "n-predict": { type: "string", short: "n" },
            "max-tokens": { type: "string" },
            "queue-size": { type: "string" },
            "max-body": { type: "string" },
            timeout: { type: "string" },
            parallel: { type: "string" }
        }
    });
    if (values.model === undefined)
        throw new UsageError("--model is required");
    if (!["auto", "cpu", "vulkan", "cuda"].includes(values.gpu))
        throw new UsageError(`--gpu must be auto, cpu, vulkan or cuda, not "${values.gpu}"`);
    const threshold = values.threshold === undefined ? null : Number(values.threshold);
    if (threshold !== null && !(threshold >= 0 && threshold <= 1))
        throw new UsageError(`--threshold must be a number from 0 to 1, not "${values.threshold}"`);
    const apiKey = await apiKeyOf(values["api-key"], values["api-key-file"]);
    if (!isLoopbackHost(values.host) && apiKey === undefined)
        throw new UsageError(`--host ${values.host} reaches beyond this machine: give --api-key (or --api-key-file) too`);
    const port = integer(values.port, "--port", 8080, 0);
    const maxTokens = integer(values["max-tokens"], "--max-tokens", 4096, 1);
    const limits = {
        maxTokens,
        defaultMaxTokens: Math.min(integer(values["n-predict"], "--n-predict", 256, 1), maxTokens),
        queueSize: integer(values["queue-size"], "--queue-size", 16, 0),
        maxBodyBytes: integer(values["max-body"], "--max-body", 1024 * 1024, 1024),
        maxDecodeMs: integer(values.timeout, "--timeout", 600, 1) * 1000
    };

    const parallel = integer(values.parallel, "--parallel", 1, 1);
    if (parallel > maxParallel)
        throw new UsageError(`--parallel must be at most ${maxParallel}, not ${parallel}`);
    const engine = new EngineService((level, message) => stdoutLog({ level, msg: "engine", message }));
    // Ctrl-C while the model loads stops the load; once it is up, the server's own handler below takes over
    const loading = sigintAbort();
    const { chat: summary } = await engine.load({
        modelPath: values.model,
        completionModelPath: null,
        gpu: values.gpu as GpuSetting,
        threads: integer(values.threads, "--threads", 0, 0),
        contextSize: integer(values["ctx-size"], "--ctx-size", 4096, 64),
        threshold,
        parallel
    }, (fraction, stage) => stdoutLog({ level: "debug", msg: "loading", fraction, stage }), loading.signal).finally(() => loading.dispose());
    const server = await startServer(engine, { host: values.host, port, apiKey, modelName: values.alias ?? summary.name, limits, parallel, log: stdoutLog });
    stdoutLog({ level: "info", msg: "listening", url: server.url, parallel, model: summary.name, kind: summary.kind, backend: summary.backend, threads: summary.threads, context_size: summary.contextSize, auth: apiKey !== undefined });

    await new Promise<void>((resolve) => {
        const stop = (): void => {
            process.off("SIGINT", stop);
            process.off("SIGTERM", stop);
            resolve();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
    });
    stdoutLog({ level: "info", msg: "stopping" });
    await server.close();
    await engine.dispose();
}
