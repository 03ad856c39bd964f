/**
 * Does the copilot's engine compute what the training code computes? Runs every held-out window that
 * training/evaluate.py scored through the engine (TahModel + TahContext, prefill with records from position 0)
 * and compares, position by position, the decider's P(hard), the decision, and the final greedy prediction with
 * <work>/engine_expectations.json. Then checks llama.cpp's tokenizer against the Python BPE on the FIM lines, and
 * greedily completes the held-out FIM prompts with the engine (exact match against the masked line).
 *
 *   npx tsx training/engine_agreement.ts --profile full --model DIR [--out FILE] [--windows N] [--fim N]
 */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { TahContext } from "../src/engine/evaluator/TahContext.js";
import { greedy } from "../src/engine/evaluator/sampling.js";
import { TahModel } from "../src/engine/model/TahModel.js";
import { loadPatchedLlama } from "../src/engine/native/loadPatchedLlama.js";

interface WindowExpectation {
    tokens: number[];
    pHard: number[];
    iterated: number[];
    predFinal: number[];
    marginFinal: number[];
    predDepth0: number[];
}

interface FimExpectation {
    prompt: number[];
    target: number[];
    middle: string;
    exactDecider: boolean;
}

interface Expectations {
    threshold: number;
    windows: WindowExpectation[];
    fim: FimExpectation[];
}

const { values } = parseArgs({
    options: {
        profile: { type: "string", default: "full" },
        model: { type: "string" },
        out: { type: "string" },
        windows: { type: "string" },
        fim: { type: "string" },
        /** Python top-1/top-2 logit gaps below this count as ties (either prediction is right). */
        tie: { type: "string", default: "0.01" }
    }
});
const cache = process.env.TAH_TRAINING_CACHE ?? path.join(os.homedir(), ".cache", "tah-copilot", "training");
const work = path.join(cache, values.profile);
const modelDir = values.model ?? path.join(work, "converted-f32");
const tie = Number(values.tie);
const expected = JSON.parse(readFileSync(path.join(work, "engine_expectations.json"), "utf8")) as Expectations;
const windows = expected.windows.slice(0, values.windows === undefined ? undefined : Number(values.windows));
const fims = expected.fim.slice(0, values.fim === undefined ? undefined : Number(values.fim));
const threshold = expected.threshold;

const patched = await loadPatchedLlama({ gpu: "cpu" });
const model = await TahModel.load(patched, modelDir);
const longest = Math.max(...windows.map((w) => w.tokens.length), ...fims.map((f) => f.prompt.length + f.target.length)) + 8;
const context = await TahContext.create(model, {
    sequences: 1, contextSize: longest, threads: 1, batchSize: longest, iterationHeadroom: 1, kvType: "f32", flashAttention: false
});
const sequence = context.sequence(0);

const tally = {
    positions: 0, decisionsSame: 0, predictionsSame: 0, predictionsSameOrTie: 0, maxPHardDiff: 0,
    scored: 0, pythonCorrect: 0, engineCorrect: 0, iteratedPython: 0, iteratedEngine: 0,
    flipsNearThreshold: 0, worstFlipDistance: 0
};
const started = performance.now();
for (const [w, window] of windows.entries()) {
    await sequence.truncate(0);
    const result = await sequence.prefill(window.tokens, { threshold, recordTopN: 2, recordFrom: 0 });
    result.records.forEach((record, i) => {
        const pHard = record.pHard ?? Number.NaN;
        const pythonIterated = window.iterated[i] === 1;
        const enginePrediction = record.after[0].token;
        tally.positions++;
        tally.maxPHardDiff = Math.max(tally.maxPHardDiff, Math.abs(pHard - window.pHard[i]));
        if (record.iterated === pythonIterated)
            tally.decisionsSame++;
        else {
            // A flip is expected only where P(hard) sits on the threshold.
            const distance = Math.abs(window.pHard[i] - threshold);
            tally.worstFlipDistance = Math.max(tally.worstFlipDistance, distance);
            if (distance < 1e-3)
                tally.flipsNearThreshold++;
        }
        tally.iteratedPython += pythonIterated ? 1 : 0;
        tally.iteratedEngine += record.iterated ? 1 : 0;
        if (enginePrediction === window.predFinal[i])
            tally.predictionsSame++;
        if (enginePrediction === window.predFinal[i] || window.marginFinal[i] < tie)
            tally.predictionsSameOrTie++;
        if (i + 1 < window.tokens.length) {
            tally.scored++;
            tally.pythonCorrect += window.predFinal[i] === window.tokens[i + 1] ? 1 : 0;
            tally.engineCorrect += enginePrediction === window.tokens[i + 1] ? 1 : 0;
        }
    });
    if ((w + 1) % 50 === 0)
        console.log(`${w + 1}/${windows.length} windows, decisions ${(100 * tally.decisionsSame / tally.positions).toFixed(3)}% same`);
}
const prefillSeconds = (performance.now() - started) / 1000;

// llama.cpp's tokenizer against the Python BPE, on the masked lines (plain text, no special tokens).
let tokenizationSame = 0;
for (const fim of fims) {
    const ids = model.tokenize(fim.middle);
    const want = fim.target.slice(0, -1);
    if (ids.length === want.length && ids.every((id, i) => id === want[i]))
        tokenizationSame++;
}

// Greedy FIM completion through the engine's generation loop, stopping at the model's end-of-generation tokens.
let exactEngine = 0;
let exactPython = 0;
let sameOutcome = 0;
const samples: Array<{ middle: string; completion: string }> = [];
for (const fim of fims) {
    await sequence.truncate(0);
    const tokens: number[] = [];
    for await (const step of sequence.generate(fim.prompt, { maxTokens: fim.target.length + 8, sampling: greedy, threshold }))
        tokens.push(step.token);
    const text = model.detokenize(tokens);
    const exact = text === fim.middle;
    exactEngine += exact ? 1 : 0;
    exactPython += fim.exactDecider ? 1 : 0;
    sameOutcome += exact === fim.exactDecider ? 1 : 0;
    if (samples.length < 12)
        samples.push({ middle: fim.middle, completion: text });
}

const pct = (a: number, b: number): number => Number((100 * a / Math.max(1, b)).toFixed(3));
const report = {
    model: modelDir,
    threshold,
    windows: windows.length,
    positions: tally.positions,
    decisionAgreementPct: pct(tally.decisionsSame, tally.positions),
    decisionFlips: tally.positions - tally.decisionsSame,
    flipsWithin1e3OfThreshold: tally.flipsNearThreshold,
    worstFlipDistanceFromThreshold: tally.worstFlipDistance,
    maxPHardDiff: tally.maxPHardDiff,
    predictionAgreementPct: pct(tally.predictionsSame, tally.positions),
    predictionAgreementOrTiePct: pct(tally.predictionsSameOrTie, tally.positions),
    tieTolerance: tie,
    iteratedSharePython: pct(tally.iteratedPython, tally.positions),
    iteratedShareEngine: pct(tally.iteratedEngine, tally.positions),
    accuracyPythonPct: pct(tally.pythonCorrect, tally.scored),
    accuracyEnginePct: pct(tally.engineCorrect, tally.scored),
    prefillSeconds: Number(prefillSeconds.toFixed(1)),
    prefillTokensPerSecond: Number((tally.positions / prefillSeconds).toFixed(0)),
    fimExamples: fims.length,
    tokenizerAgreementPct: pct(tokenizationSame, fims.length),
    fimExactMatchEnginePct: pct(exactEngine, fims.length),
    fimExactMatchPythonPct: pct(exactPython, fims.length),
    fimSameOutcomePct: pct(sameOutcome, fims.length),
    samples
};
console.log(JSON.stringify(report, null, 2));
if (values.out !== undefined)
    writeFileSync(values.out, JSON.stringify(report, null, 2) + "\n");

await context.dispose();
await model.dispose();
await patched.llama.dispose();
