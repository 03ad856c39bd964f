// The two restart bugs of issue 13, driven the way EngineHost drives the client (restart(), then its own load).
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { EngineClient } from "../../src/engineClient/EngineClient.js";
import type { EngineSettings } from "../../src/engine/protocol/engineProtocol.js";

const fakeEngine = path.join(import.meta.dirname, "fakeEngine", "fakeEngineProcess.ts");
const cpu: EngineSettings = { modelPath: "/models/a", gpu: "cpu", threads: 1, contextSize: 1024, threshold: null };

function fakeClient(): { client: EngineClient; loads: () => string[] } {
    const lines: string[] = [];
    const client = new EngineClient({ enginePath: fakeEngine, execArgv: ["--import", "tsx"], log: (_level, message) => lines.push(message) });
    return { client, loads: () => lines.filter((line) => line.startsWith("fake: load")) };
}

test("Restart Engine loads the model once", async () => {
    const { client, loads } = fakeClient();
    try {
        await client.load(cpu);
        // EngineHost.restart(): client.restart(), then a load of its own
        await client.restart();
        await client.load(cpu);
        assert.equal(loads().length, 2, loads().join("\n"));
    } finally {
        client.dispose();
    }
});

test("switching tah.gpu from cpu to vulkan loads vulkan into a fresh process", async () => {
    const { client } = fakeClient();
    try {
        await client.load(cpu);
        // EngineHost.applySettings() on a backend change: client.restart(), then the load of the new settings
        await client.restart();
        const model = await client.load({ ...cpu, gpu: "vulkan" });
        assert.equal(model.backend, "vulkan");
    } finally {
        client.dispose();
    }
});
