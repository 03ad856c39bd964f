/**
 * The engine process's door: a request beyond the protocol's bounds is refused before it reaches the engine, and a
 * request for a method the engine does not know gets an invalidRequest answer instead of none.
 */
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { paramSchemas } from "../../src/engine/process/requestSchemas.js";
import type { EngineToHost } from "../../src/engine/protocol/engineProtocol.js";

const root = path.resolve(import.meta.dirname, "..", "..");

describe("engine requests", () => {
    it("refuses a NaN or out-of-range threshold, 40000 threads and a chat beyond the text bound", () => {
        const settings = { modelPath: "/m", completionModelPath: null, gpu: "cpu", threads: 1, contextSize: 1024, threshold: 0.5 };
        assert.equal(paramSchemas.load.safeParse(settings).success, true);
        for (const bad of [{ threshold: Number.NaN }, { threshold: 1.5 }, { threads: 40_000 }])
            assert.equal(paramSchemas.load.safeParse({ ...settings, ...bad }).success, false, JSON.stringify(bad));
        const long = "x".repeat(1_500_000);
        const chat = { maxTokens: 16, enableThinking: false, stream: false };
        assert.equal(paramSchemas.chat.safeParse({ ...chat, messages: [{ role: "user", content: long }] }).success, true);
        assert.equal(paramSchemas.chat.safeParse({ ...chat, messages: [{ role: "user", content: long }, { role: "user", content: long }] }).success, false);
    });

    it("answers an unknown method with invalidRequest", async () => {
        const child = fork(path.join(root, "src", "engine", "process", "main.ts"), [], { execArgv: ["--import", "tsx"], cwd: root, stdio: ["ignore", "ignore", "inherit", "ipc"] });
        try {
            const answer = await new Promise<EngineToHost>((resolve, reject) => {
                child.on("error", reject);
                child.on("message", (message: EngineToHost) => {
                    if (message.type === "ready")
                        child.send({ type: "request", id: 7, method: "selfDestruct", params: {} });
                    else if (message.type === "error" || message.type === "response")
                        resolve(message);
                });
            });
            assert.deepEqual(answer, { type: "error", id: 7, error: { code: "invalidRequest", message: "unknown method \"selfDestruct\"" } });
        } finally {
            child.kill();
        }
    });
});
