/**
 * The bench models' vocabulary is a real one: llama.cpp, reading the merges the bench writes, must tokenize code exactly
 * as js-tiktoken's own cl100k_base encoder does (the independent reference), and code must cost about as many tokens
 * as on a Qwen model, since prompt lengths set what the benchmark's latencies measure.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { Tiktoken } from "js-tiktoken/lite";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import { sourceText } from "../../bench/benchPrompts.js";
import { writeBackbone } from "../../bench/randomTahModel.js";
import { loadPatchedLlama, type PatchedLlama } from "../../src/engine/native/loadPatchedLlama.js";
import { TahModel } from "../../src/engine/model/TahModel.js";

let root: string;
let patched: PatchedLlama;
let model: TahModel;

before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah-bench-vocabulary-"));
    const file = path.join(root, "backbone.gguf");
    // tiny layers, the full vocabulary (cl100k's 100,256 ranks, the specials and padding)
    await writeBackbone(file, { name: "vocabulary-check", nLayer: 1, nEmbd: 32, nHead: 2, nHeadKv: 1, headDim: 16, nFf: 64, nVocab: 100_400 });
    patched = await loadPatchedLlama({ gpu: "cpu" });
    model = await TahModel.load(patched, file);
});

after(async () => {
    await model.dispose();
    await patched.llama.dispose();
    await rm(root, { recursive: true, force: true });
});

/** The bench's source without digits: Qwen2's pre-tokenizer splits numbers digit by digit, cl100k's in threes. */
const code = sourceText().replace(/[0-9]/g, "");

test("llama.cpp tokenizes code with the bench vocabulary exactly as cl100k_base's own encoder", () => {
    const reference = new Tiktoken(cl100k).encode(code);
    const tokens = model.tokenize(code);
    const firstDifference = tokens.findIndex((token, i) => token !== reference[i]);
    assert.equal(firstDifference, -1, `first difference at token ${firstDifference}: ${JSON.stringify(model.detokenize(tokens.slice(Math.max(0, firstDifference - 3), firstDifference + 3)))}`);
    assert.equal(tokens.length, reference.length);
    assert.equal(model.detokenize(tokens), code);
});

test("code costs about as many tokens as on a Qwen model (3 to 5 characters per token)", () => {
    const source = sourceText();
    const perToken = source.length / model.tokenize(source).length;
    assert.ok(perToken >= 3 && perToken <= 5, `${perToken.toFixed(2)} characters per token`);
});

test("every id decodes to text, padding included, and the FIM tokens are the specials", () => {
    for (const id of [0, 255, 50_000, 100_255, 100_300, 100_399])
        assert.notEqual(model.detokenize([id]), "", `id ${id}`);
    assert.ok(model.fimTokens !== undefined);
    assert.equal(model.detokenize([model.fimTokens.middle], true), "<|fim_middle|>");
});
