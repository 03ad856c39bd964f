/**
 * Several sequences in one context, KV reuse of a shared prefix (and removal of a suffix at both depths),
 * cancellation within a decode step, and a full context — each checked against the reference.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { TahContext } from "../../src/engine/evaluator/TahContext.js";
import { greedy } from "../../src/engine/evaluator/sampling.js";
import type { TokenRecord } from "../../src/engine/evaluator/tokenRecords.js";
import { maxWaitingPerSequence } from "../../src/engine/evaluator/TahSequence.js";
import { TahModel } from "../../src/engine/model/TahModel.js";
import { loadPatchedLlama, type PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import { runReference } from "../reference/runReference.js";
import type { TahModel as ReferenceModel } from "../reference/tahModel.js";
import { generateTinyTah } from "../support/tinyTah.js";
import { tokenize } from "../support/tinyTokenizer.js";
import { maxAbsDiff } from "./engineHarness.js";

const tolerance = 1e-4;
let patched: PatchedLlama;
let dir: string;
let reference: ReferenceModel;
let model: TahModel;

before(async () => {
    patched = await loadPatchedLlama({ gpu: "cpu" });
    dir = await mkdtemp(path.join(os.tmpdir(), "tah-seq-"));
    reference = (await generateTinyTah(dir, { seed: 5 })).model;
    model = await TahModel.load(patched, dir);
});

after(async () => {
    await model.dispose();
    await patched.llama.dispose();
    await rm(dir, { recursive: true, force: true });
});

function createContext(sequences: number, contextSize = 256): Promise<TahContext> {
    return TahContext.create(model, { sequences, contextSize, threads: 1, batchSize: 16, iterationHeadroom: 1, kvType: "f32", flashAttention: false });
}

/** Checks engine records against the reference run over `tokens`, for the positions the records cover. */
function assertMatchesReference(records: readonly TokenRecord[], tokens: readonly number[], threshold: number): void {
    const expected = runReference(reference, { promptTokens: tokens, steps: 0, threshold }).records;
    for (const record of records) {
        const want = expected[record.position];
        assert.equal(record.token, want.token, `token at ${record.position}`);
        assert.equal(record.iterated, want.iterated, `decision at ${record.position}`);
        const logits = new Float64Array(want.finalLogits.length).fill(Number.NaN);
        record.after.forEach((candidate) => (logits[candidate.token] = candidate.logit));
        assert.ok(maxAbsDiff(logits, want.finalLogits) <= tolerance, `final logits at ${record.position}`);
    }
}

const full = { recordTopN: 400, recordFrom: 0 };
const textA = tokenize("function area(radius) {\n    return Math.PI * radius");
const textB = tokenize(" * radius;\n}\nconsole.log(area(2));\n");
const textC = tokenize(" ** 2;\n}\nexport default area;\n");

test("sequences side by side stay apart", async () => {
    const context = await createContext(2);
    try {
        const [first, second] = [context.sequence(0), context.sequence(1)];
        const threshold = 0.5;
        // interleave chunks of the two prompts: a shared KV cache must not leak between them
        const runs = await Promise.all([
            first.evaluate([...textA, ...textB], { ...full, threshold }),
            second.evaluate([...textC, ...textA], { ...full, threshold })
        ]);
        assertMatchesReference(runs[0].records, [...textA, ...textB], threshold);
        assertMatchesReference(runs[1].records, [...textC, ...textA], threshold);
        assert.ok(runs[0].iterated > 0 && runs[1].iterated > 0, "some tokens iterate in both");
    } finally {
        await context.dispose();
    }
});

test("a shared prefix is reused and the removed suffix takes its depth-1 entries with it", async () => {
    const context = await createContext(1);
    try {
        const sequence = context.sequence(0);
        const threshold = 0;  // every token iterates, so the suffix leaves depth-1 entries behind if removal misses them
        await sequence.prefill([...textA, ...textB], { ...full, threshold });
        const second = await sequence.prefill([...textA, ...textC], { ...full, threshold });
        let shared = textA.length;
        while (textB[shared - textA.length] === textC[shared - textA.length])
            shared++;
        assert.equal(second.reused, shared);
        assert.equal(second.records[0].position, shared);
        assertMatchesReference(second.records, [...textA, ...textC], threshold);
    } finally {
        await context.dispose();
    }
});

test("a different threshold does not reuse KV computed with the old one", async () => {
    const context = await createContext(1);
    try {
        const sequence = context.sequence(0);
        await sequence.prefill(textA, { ...full, threshold: 1 });
        const again = await sequence.prefill(textA, { ...full, threshold: 0 });
        assert.equal(again.reused, 0);
        assertMatchesReference(again.records, textA, 0);
    } finally {
        await context.dispose();
    }
});

test("an abort stops generation within one decode step and leaves the sequence usable", async () => {
    const context = await createContext(1, 512);
    try {
        const sequence = context.sequence(0);
        const controller = new AbortController();
        const seen: number[] = [];
        const generator = sequence.generate(textA, { maxTokens: 400, sampling: greedy, threshold: 0.5, signal: controller.signal, isStopToken: () => false });
        await assert.rejects(async () => {
            for await (const token of generator) {
                seen.push(token.token);
                if (seen.length === 3)
                    controller.abort();
            }
        }, { name: "AbortError" });
        assert.equal(seen.length, 3, "no token arrives after the abort");
        assert.equal(sequence.tokens.length, textA.length + 2, "the step in flight was rolled back");

        const after = await sequence.prefill([...textA, ...textB], { ...full, threshold: 0.5 });
        assertMatchesReference(after.records, [...textA, ...textB], 0.5);
    } finally {
        await context.dispose();
    }
});

test("a prompt longer than the context is refused and the context stays usable", async () => {
    const context = await createContext(1, 48);
    try {
        const sequence = context.sequence(0);
        const long = [...textA, ...textB, ...textC];
        assert.ok(long.length > 48);
        await assert.rejects(sequence.prefill(long, full), /context is full/);
        assert.equal(sequence.tokens.length, 0, "nothing of the refused prompt was evaluated");
        const ok = await sequence.prefill(textA, { ...full, threshold: 0.5 });
        assertMatchesReference(ok.records, textA, 0.5);
    } finally {
        await context.dispose();
    }
});

test("requests wait for a sequence in turn: a cancelled one leaves the queue unrun, a superseded one ends aborted, one too many is busy", async () => {
    const context = await createContext(1);
    try {
        const sequence = context.sequence(0);
        const holder = sequence.generate(textA, { maxTokens: 4, sampling: greedy, threshold: 0.5, isStopToken: () => false });
        await holder.next();  // the generator holds the sequence until it ends
        const cancelled = new AbortController();
        const waiting = [sequence.evaluate(textB, { threshold: 0.5, signal: cancelled.signal })];
        for (let index = 1; index < maxWaitingPerSequence; index++)
            waiting.push(sequence.evaluate([], { threshold: 0.5 }));
        await assert.rejects(sequence.evaluate([], { threshold: 0.5 }), (error: unknown) => engineErrorCodeOf(error) === "busy");
        cancelled.abort();
        await assert.rejects(waiting[0], (error: unknown) => engineErrorCodeOf(error) === "aborted");
        const superseding = sequence.generate(textC, { maxTokens: 1, sampling: greedy, threshold: 0.5, supersedesWaiting: true });
        const newest = superseding.next();
        for (const request of waiting.slice(1))
            await assert.rejects(request, (error: unknown) => engineErrorCodeOf(error) === "aborted");
        for await (const token of holder)
            assert.equal(typeof token.token, "number");
        await newest;
        assert.equal((await superseding.next()).done, true);
        assert.deepEqual(sequence.tokens, textC, "the cancelled request never ran; the newest did");
    } finally {
        await context.dispose();
    }
});
