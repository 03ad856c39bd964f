// The engine's lifecycle in the extension host, driven through the real EngineClient and a fake engine process:
// one owner (EngineController) decides what is loaded, whatever asked for it (settings, Restart, a crash).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import { cpuSettings, withFakeHost } from "./fakeEngine/fakeEngineHarness.js";

const limit = { timeout: 30_000 };

describe("one owner of what the engine loads", () => {
    test("Restart Engine loads the model once, in a fresh process", limit, async () => {
        await withFakeHost({}, async (host) => {
            await host.controller.ensureLoaded();
            const before = host.client.pid;
            const model = await host.controller.restart();
            assert.equal(model?.path, cpuSettings.modelPath);
            assert.equal(host.loads().length, 2, host.loads().join("\n"));
            assert.notEqual(host.client.pid, before);
            assert.equal(host.controller.state.kind, "ready");
        });
    });

    test("switching tah.gpu from cpu to vulkan loads vulkan once, in a fresh process", limit, async () => {
        await withFakeHost({}, async (host) => {
            await host.controller.ensureLoaded();
            const before = host.client.pid;
            host.settings = { ...cpuSettings, gpu: "vulkan" };
            const model = await host.controller.settingsChanged();
            assert.equal(model?.backend, "vulkan");
            assert.equal(host.loads().length, 2, host.loads().join("\n"));
            assert.notEqual(host.client.pid, before);
            assert.deepEqual(host.failures, []);
        });
    });

    test("a model switch on the same backend loads the new model in the same process", limit, async () => {
        await withFakeHost({}, async (host) => {
            await host.controller.ensureLoaded();
            const before = host.client.pid;
            host.settings = { ...cpuSettings, modelPath: "/models/b" };
            const model = await host.controller.settingsChanged();
            assert.equal(model?.path, "/models/b");
            assert.equal(host.client.pid, before);
            assert.equal(host.loads().length, 2);
        });
    });

    test("a burst of settings changes loads only the last settings", limit, async () => {
        await withFakeHost({ controller: { settleMs: 20 } }, async (host) => {
            await host.controller.ensureLoaded();
            const applied = [];
            for (const threshold of [0.1, 0.2, 0.3]) {
                host.settings = { ...cpuSettings, threshold };
                applied.push(host.controller.settingsChanged());
            }
            // every change of the burst settles, on the one load of the last settings
            const models = await Promise.all(applied);
            assert.deepEqual(models.map((model) => model?.threshold), [0.3, 0.3, 0.3]);
            assert.equal(host.loads().length, 2, host.loads().join("\n"));
        });
    });

    test("no model selected: the process is stopped and the state is idle", limit, async () => {
        await withFakeHost({}, async (host) => {
            await host.controller.ensureLoaded();
            host.settings = undefined;
            assert.equal(await host.controller.settingsChanged(), undefined);
            assert.equal(host.controller.state.kind, "idle");
            assert.equal(host.client.pid, undefined);
            await assert.rejects(host.controller.requireModel(), (error) => engineErrorCodeOf(error) === "noModel");
        });
    });

    test("after a crash the model is loaded again through the same path, and the user is told once", limit, async () => {
        await withFakeHost({}, async (host) => {
            await host.controller.ensureLoaded();
            for (let crash = 1; crash <= 2; crash++) {
                const pid = host.client.pid;
                assert.ok(pid !== undefined);
                const restarted = host.until((state) => state.kind === "crashed");
                process.kill(pid, "SIGKILL");
                await restarted;
                await host.until((state) => state.kind === "ready");
                assert.notEqual(host.client.pid, pid);
                assert.equal(host.loads().length, 1 + crash);
            }
            assert.equal(host.crashes.length, 1);
            assert.equal(host.crashes[0]?.code, "crashed");
            assert.deepEqual(host.failures, []);
        });
    });
});

describe("crash messages", () => {
    test("a crash long after the last one is told again; one soon after is not", limit, async () => {
        let clock = 0;
        await withFakeHost({ controller: { crashWindowMs: 1000, now: () => clock } }, async (host) => {
            await host.controller.ensureLoaded();
            for (const at of [0, 500, 5000]) {
                clock = at;
                const pid = host.client.pid;
                assert.ok(pid !== undefined);
                process.kill(pid, "SIGKILL");
                await host.until((state) => state.kind === "ready" && host.client.pid !== pid);
            }
            assert.equal(host.crashes.length, 2);
            assert.deepEqual(host.failures, []);
        });
    });
});

describe("an engine that cannot start", () => {
    for (const code of ["nativeBuild", "unsupportedCpu", "gpuUnavailable"] as const) {
        test(`a ${code} load failure is reported once, shown in the state and not retried`, limit, async () => {
            await withFakeHost({ env: { FAKE_ENGINE_LOAD_ERROR: code } }, async (host) => {
                assert.equal(await host.controller.ensureLoaded(), undefined);
                assert.equal(host.controller.state.kind, "failed");
                assert.deepEqual(host.failures.map((error) => error.code), [code]);
                // every later request gets the same reason, without another load
                await assert.rejects(host.controller.requireModel(), (error) => engineErrorCodeOf(error) === code);
                await assert.rejects(host.controller.requireModel(), (error) => engineErrorCodeOf(error) === code);
                assert.equal(host.loads().length, 1);
                assert.equal(host.failures.length, 1);
                // new settings are a new attempt
                host.settings = { ...cpuSettings, gpu: "auto" };
                await host.controller.settingsChanged();
                assert.equal(host.loads().length, 2);
            });
        });
    }

    test("an engine that crashes at every load is given up after maxCrashes restarts, with one message", limit, async () => {
        await withFakeHost({ env: { FAKE_ENGINE_EXIT_ON_LOAD: "1" }, controller: { maxCrashes: 2 } }, async (host) => {
            void host.controller.ensureLoaded();
            const failed = await host.until((state) => state.kind === "failed");
            assert.ok(failed.kind === "failed");
            assert.equal(failed.error.code, "crashed");
            assert.match(failed.error.message, /3 times/);
            assert.equal(host.loads().length, 3);
            assert.equal(host.failures.length, 1);
            assert.equal(host.crashes.length, 1);
            assert.equal(await host.controller.ensureLoaded(), undefined);
            assert.equal(host.loads().length, 3, "no restart loop");
            // the user's Restart is one more try
            void host.controller.restart();
            await host.until((state) => state.kind === "failed" && host.loads().length > 3);
            assert.equal(host.failures.length, 2);
        });
    });

    test("an engine process that exits before it is ready is given up too", limit, async () => {
        await withFakeHost({ env: { FAKE_ENGINE_EXIT_AT_START: "1" }, controller: { maxCrashes: 1 } }, async (host) => {
            void host.controller.ensureLoaded();
            const failed = await host.until((state) => state.kind === "failed");
            assert.ok(failed.kind === "failed");
            assert.equal(failed.error.code, "crashed");
            assert.equal(host.failures.length, 1);
            await assert.rejects(host.controller.requireModel(), (error) => engineErrorCodeOf(error) === "crashed");
        });
    });
});

describe("a stuck engine", () => {
    test("a stopped engine (SIGSTOP) fails the request with timeout, is killed and loads again", limit, async () => {
        await withFakeHost({ liveness: { pingAfterMs: 50, timeoutMs: 300, startTimeoutMs: 60_000 } }, async (host) => {
            await host.controller.ensureLoaded();
            const pid = host.client.pid;
            assert.ok(pid !== undefined);
            const request = host.client.request("complete", { prefix: "hang", suffix: "", maxTokens: 4, maxMs: 100, maxLines: 1, stream: false });
            process.kill(pid, "SIGSTOP");
            await assert.rejects(request, (error) => engineErrorCodeOf(error) === "timeout");
            await host.until((state) => state.kind === "ready" && host.client.pid !== pid);
            assert.deepEqual(host.crashes.map((error) => error.code), ["timeout"]);
            assert.equal(host.loads().length, 2);
        });
    });
});
