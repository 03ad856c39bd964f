/**
 * The model that ships with the extension (models/tah-code-default/, trained by training/run.sh) loads in the
 * engine as a TaH model and completes code: a fill-in-the-middle prompt built the way inline completion builds it,
 * greedy decoding, and the completion must be non-empty text without special tokens. No timing assertions.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { TahContext } from "../../src/engine/evaluator/TahContext.js";
import { greedy } from "../../src/engine/evaluator/sampling.js";
import { TahModel } from "../../src/engine/model/TahModel.js";
import { loadPatchedLlama, type PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { buildCompletionPrompt } from "../../src/engine/prompts/completionPrompt.js";

const modelDir = path.resolve(import.meta.dirname, "..", "..", "models", "tah-code-default");

const snippets: Array<{ name: string; prefix: string; suffix: string }> = [
    {
        name: "Python",
        prefix: "import os\n\n\ndef read_lines(path):\n    with open(path) as f:\n        ",
        suffix: "\n\n\ndef main():\n    for line in read_lines(os.sep):\n        print(line)\n"
    },
    {
        name: "TypeScript",
        prefix: "export function sum(values: number[]): number {\n    let total = 0;\n    for (const value of values) {\n        ",
        suffix: "\n    }\n    return total;\n}\n"
    }
];

let patched: PatchedLlama;
let model: TahModel;
let context: TahContext;

before(async () => {
    patched = await loadPatchedLlama({ gpu: "cpu" });
    model = await TahModel.load(patched, modelDir);
    context = await TahContext.create(model, { sequences: 1, contextSize: 512, threads: 1, batchSize: 256 });
});

after(async () => {
    await context.dispose();
    await model.dispose();
    await patched.llama.dispose();
});

describe("the shipped default model", () => {
    test("is a TaH model with fill-in-the-middle tokens and its own threshold", () => {
        assert.equal(model.kind, "tah");
        assert.ok(model.fimTokens !== undefined, "the GGUF declares FIM tokens");
        assert.ok(model.defaultThreshold > 0 && model.defaultThreshold < 1);
    });

    for (const snippet of snippets) {
        test(`completes ${snippet.name} code`, async (t) => {
            const prompt = buildCompletionPrompt(model, snippet.prefix, snippet.suffix, 400);
            assert.equal(prompt.mode, "fim");
            const sequence = context.sequence(0);
            await sequence.truncate(0);
            const tokens: number[] = [];
            let iterated = 0;
            for await (const step of sequence.generate(prompt.tokens, { maxTokens: 24, sampling: greedy })) {
                tokens.push(step.token);
                iterated += step.record.iterated ? 1 : 0;
                assert.ok(step.record.pHard !== null, "a TaH record carries the decider's P(hard)");
            }
            const text = model.detokenize(tokens);
            assert.ok(tokens.length > 0, "at least one token before the end of generation");
            assert.ok(tokens.every((token) => !model.isMarkupToken(token)), `no special tokens in ${JSON.stringify(text)}`);
            assert.ok(text.trim().length > 0, "the completion is not blank");
            assert.ok(!text.includes("<|") && !text.includes("\uFFFD"), `clean text: ${JSON.stringify(text)}`);
            t.diagnostic(`${JSON.stringify(text)} (${tokens.length} tokens, ${iterated} iterated)`);
        });
    }
});
