/**
 * The engine's depth statistics on a converted 3-depth TaH2 model: status().stats.depthSum is the sum of the generated
 * tokens' deepest depths (what the status bar's mean depth divides), across requests and across chat and completion,
 * and it is not the iterated count (at threshold 0 every token runs all three depths: depth 2, iterated once each).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { convertCheckpoint } from "../../src/convert/convertCheckpoint.js";
import type { CompletionParams, EngineSettings, TokenView } from "../../src/engine/protocol/engineProtocol.js";
import { EngineService } from "../../src/engine/service/EngineService.js";
import { writeTah2Checkpoint } from "../support/tah2Checkpoint.js";
import { testGpu } from "./engineHarness.js";

let root: string;
let modelDir: string;
const completion: CompletionParams = { prefix: "let total = 0;\nfor (const x of xs) total +=", suffix: "", maxTokens: 6, maxMs: 600_000, maxLines: 50, stream: true };

before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah-depth-stats-"));
    const checkpoint = await writeTah2Checkpoint(path.join(root, "checkpoint"), { seed: 7, maxIter: 3 });
    modelDir = path.join(root, "model");
    await convertCheckpoint({ checkpointDir: checkpoint.dir, outDir: modelDir, type: "f32", sync: false });
});

after(() => rm(root, { recursive: true, force: true }));

async function withService(threshold: number | null, run: (service: EngineService) => Promise<void>): Promise<void> {
    const settings: EngineSettings = { modelPath: modelDir, completionModelPath: null, gpu: testGpu, threads: 1, contextSize: 256, threshold };
    const service = new EngineService(() => undefined);
    try {
        await service.load(settings, () => undefined, new AbortController().signal);
        await run(service);
    } finally {
        await service.dispose();
    }
}

const depthOf = (token: TokenView): number => {
    assert.ok(token.depth !== undefined, "the engine's token views carry depth");
    return token.depth;
};

test("depthSum: every token at depth 2 when every token runs every depth (threshold 0), twice the iterated count", async () => {
    await withService(0, async (service) => {
        const seen: TokenView[] = [];
        // a random model may end a completion at once: the chat makes sure tokens are generated
        await service.complete(completion, (token) => seen.push(token), new AbortController().signal);
        await service.chat({ messages: [{ role: "user", content: "add two numbers" }], maxTokens: 8, enableThinking: false, stream: true },
            (token) => seen.push(token), new AbortController().signal);
        const { stats } = service.status();
        assert.ok(stats.generatedTokens > 0 && seen.length === stats.generatedTokens, `${seen.length} tokens streamed, ${stats.generatedTokens} generated`);
        assert.ok(seen.every((token) => depthOf(token) === 2));
        assert.equal(stats.iteratedTokens, stats.generatedTokens);
        assert.equal(stats.depthSum, 2 * stats.generatedTokens);
    });
});

test("depthSum at the model's own threshold: the sum of the streamed tokens' depths, accumulated over chat and completion", async () => {
    await withService(null, async (service) => {
        const seen: TokenView[] = [];
        await service.complete(completion, (token) => seen.push(token), new AbortController().signal);
        await service.chat({ messages: [{ role: "user", content: "add two numbers" }], maxTokens: 8, enableThinking: false, stream: true },
            (token) => seen.push(token), new AbortController().signal);
        const { stats } = service.status();
        assert.equal(seen.length, stats.generatedTokens);
        assert.equal(stats.depthSum, seen.reduce((sum, token) => sum + depthOf(token), 0));
    });
});
