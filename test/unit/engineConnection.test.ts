// Where the engine runs: EngineConnection sends the engine protocol to the remote tah serve while tah.engine.url is
// set and to the local process otherwise, always converts locally, stops the side it leaves, and passes on only the
// current side's losses.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, test } from "node:test";
import { EngineError } from "../../src/engine/protocol/EngineError.js";
import type { EngineClient } from "../../src/engineClient/EngineClient.js";
import type { RemoteEngineClient } from "../../src/engineClient/RemoteEngineClient.js";
import { EngineConnection } from "../../src/engineHost/EngineConnection.js";

/** Records what each side was asked; answers every request with its own name. */
class FakeSide extends EventEmitter {
    readonly asked: string[] = [];
    stopped = 0;
    disposed = false;
    rttMs = 12;

    constructor(readonly url: string) {
        super();
    }

    get host(): string {
        return this.url;
    }

    request(method: string): Promise<string> {
        this.asked.push(method);
        return Promise.resolve(this.url);
    }

    load(): Promise<string> {
        this.asked.push("load");
        return Promise.resolve(this.url);
    }

    stop(): void {
        this.stopped++;
    }

    dispose(): void {
        this.disposed = true;
    }
}

function connection(): { connection: EngineConnection; local: FakeSide; remotes: FakeSide[] } {
    const local = new FakeSide("local");
    const remotes: FakeSide[] = [];
    const made = new EngineConnection(local as unknown as EngineClient, (url) => {
        const remote = new FakeSide(url);
        remotes.push(remote);
        return remote as unknown as RemoteEngineClient;
    });
    return { connection: made, local, remotes };
}

describe("EngineConnection", () => {
    test("with a URL the engine's methods go to the remote, conversion stays local; without, all is local", async () => {
        const { connection: made, local, remotes } = connection();
        assert.equal(await made.request("status", {}), "local");
        made.configure("http://gpu-box:8080");
        assert.equal(local.stopped, 1, "a local process is of no use while a remote serves");
        assert.deepEqual(made.location, { kind: "remote", url: "http://gpu-box:8080", host: "http://gpu-box:8080", rttMs: 12 });
        assert.equal(await made.request("complete", { prefix: "", suffix: "", maxTokens: 1, maxMs: 100, maxLines: 1, stream: false }), "http://gpu-box:8080");
        assert.equal(await made.load({ modelPath: "x", completionModelPath: null, gpu: "auto", threads: 0, contextSize: 0, threshold: null }, () => undefined), "http://gpu-box:8080");
        assert.equal(await made.request("convert", { checkpointDir: "/a", outDir: "/b", type: "f16", force: false }), "local");
        made.configure("http://gpu-box:8080");
        assert.equal(remotes.length, 1, "the same URL keeps its connection");
        made.configure(undefined);
        assert.equal(remotes[0].disposed, true);
        assert.deepEqual(made.location, { kind: "local" });
        assert.equal(await made.request("chat", { messages: [{ role: "user", content: "x" }], maxTokens: 16, enableThinking: false, stream: false }), "local");
        assert.deepEqual(remotes[0].asked, ["complete", "load"]);
    });

    test("only the current side's loss is passed on", () => {
        const { connection: made, local, remotes } = connection();
        const exits: string[] = [];
        made.on("exit", (error) => exits.push(error.code));
        made.configure("http://a:1");
        local.emit("exit", new EngineError("crashed", "a conversion's process"));
        made.configure("http://b:1");
        remotes[0].emit("exit", new EngineError("unreachable", "the old server"));
        remotes[1].emit("exit", new EngineError("unreachable", "the current server"));
        made.configure(undefined);
        local.emit("exit", new EngineError("crashed", "the local process"));
        assert.deepEqual(exits, ["unreachable", "crashed"]);
    });
});
