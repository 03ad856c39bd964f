// A stand-in for dist/engine.mjs that speaks the engine protocol without a model or a native build, so the
// extension host's lifecycle can be tested fast. Each request is echoed to the host as a log line
// ("fake: <method> <params>") so a test can count what the host sent. Behaviour comes from the environment:
//   FAKE_ENGINE_LOAD_ERROR   every load fails with this EngineError code
//   FAKE_ENGINE_EXIT_ON_LOAD the process exits (code 3) when asked to load: a native crash at load
//   FAKE_ENGINE_EXIT_AT_START the process exits before it says ready: an engine that cannot start
// A completion whose prefix is "hang" is never answered until it is cancelled (a long request).
import type { EngineErrorCode } from "../../../src/engine/protocol/EngineError.js";
import type { EngineSettings, EngineToHost, HostToEngine, LoadedModels, ModelSummary } from "../../../src/engine/protocol/engineProtocol.js";

function send(message: EngineToHost): void {
    process.send?.(message);
}

if (process.env.FAKE_ENGINE_EXIT_AT_START === "1")
    process.exit(4);

const stats = { generatedTokens: 0, iteratedTokens: 0, tokensPerSecond: null };
/** The backend this process was first loaded for: like the real engine, one native build per process. */
let processGpu: "cpu" | "vulkan" | "cuda" | undefined;
let models: LoadedModels | null = null;
const hanging = new Set<number>();

function load(id: number, settings: EngineSettings): void {
    if (process.env.FAKE_ENGINE_EXIT_ON_LOAD === "1")
        process.exit(3);
    const gpu = settings.gpu === "auto" ? processGpu ?? "cpu" : settings.gpu;
    if (processGpu !== undefined && gpu !== processGpu) {
        send({ type: "error", id, error: { code: "internal", message: `this engine process runs the ${processGpu} build; restart it to switch to ${gpu}` } });
        return;
    }
    processGpu = gpu;
    const failure = process.env.FAKE_ENGINE_LOAD_ERROR as EngineErrorCode | undefined;
    if (failure !== undefined) {
        send({ type: "error", id, error: { code: failure, message: `fake ${failure} failure` } });
        return;
    }
    send({ type: "event", id, event: { kind: "progress", fraction: 0.5, stage: "weights" } });
    const model: ModelSummary = {
        name: settings.modelPath.split("/").pop() ?? settings.modelPath, kind: "tah", path: settings.modelPath, backend: gpu,
        threads: settings.threads, contextSize: settings.contextSize, threshold: settings.threshold, hasFim: true, hasChatTemplate: true, vocabularySize: 16
    };
    const completion = settings.completionModelPath === null ? model : { ...model, name: settings.completionModelPath.split("/").pop() ?? "", path: settings.completionModelPath };
    models = { chat: model, completion };
    send({ type: "response", id, result: models });
}

process.on("message", (message: HostToEngine) => {
    if (message.type === "cancel") {
        if (hanging.delete(message.id))
            send({ type: "error", id: message.id, error: { code: "aborted", message: "aborted" } });
        return;
    }
    const { id, method, params } = message;
    send({ type: "log", level: method === "status" ? "trace" : "info", message: `fake: ${method} ${JSON.stringify(params)}` });
    switch (method) {
        case "load":
            load(id, params as EngineSettings);
            return;
        case "status":
            send({ type: "response", id, result: { models, stats } });
            return;
        case "complete": {
            const { prefix } = params as { prefix: string };
            if (prefix === "hang") {
                hanging.add(id);
                return;
            }
            send({ type: "response", id, result: { text: " done", tokens: [], stopReason: "stopToken", promptTokens: 1, reusedTokens: 0, mode: "fim", prefillMs: 0, decodeMs: 0, stats } });
            return;
        }
        default:
            send({ type: "error", id, error: { code: "invalidRequest", message: `the fake engine does not implement ${method}` } });
    }
});

process.on("disconnect", () => process.exit(0));
send({ type: "ready", pid: process.pid });
