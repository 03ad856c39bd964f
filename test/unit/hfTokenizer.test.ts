/** tokenizer.json + tokenizer_config.json → the GGUF tokenizer section, as llama.cpp's converter writes it for Qwen. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { EngineError } from "../../src/engine/protocol/EngineError.js";
import { TokenType, convertTokenizer, type TokenizerSources } from "../../src/convert/hfTokenizer.js";
import type { GgufMetadataValue } from "../../src/gguf/ggufTypes.js";
import { writeTokenizerFiles } from "../support/hfTokenizerWriter.js";
import { chatTemplate, tinyVocabulary } from "../support/tinyTokenizer.js";

let dir = "";
before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "tah-tokenizer-"));
});
after(() => rm(dir, { recursive: true, force: true }));

const v = tinyVocabulary;
const nTokens = v.tokens.length;

async function folder(name: string, options: Parameters<typeof writeTokenizerFiles>[1] = {}): Promise<string> {
    const at = path.join(dir, name);
    await mkdir(at, { recursive: true });
    await writeTokenizerFiles(at, options);
    return at;
}

function sources(at: string, overrides: Partial<TokenizerSources> = {}): TokenizerSources {
    return { dir: at, vocabSize: nTokens, generationConfig: {}, config: {}, ...overrides };
}

function value(metadata: Record<string, GgufMetadataValue>, key: string): unknown {
    return metadata[key]?.value;
}

describe("convertTokenizer", () => {
    it("writes tokens by id, llama.cpp's token types, merges, special ids, FIM ids and the chat template", async () => {
        const at = await folder("plain");
        const { metadata, definedTokens, hasChatTemplate } = await convertTokenizer(sources(at));
        assert.equal(value(metadata, "tokenizer.ggml.model"), "gpt2");
        assert.equal(value(metadata, "tokenizer.ggml.pre"), "qwen2");
        assert.deepEqual(value(metadata, "tokenizer.ggml.tokens"), v.tokens);
        assert.deepEqual(value(metadata, "tokenizer.ggml.merges"), v.merges);
        const types = value(metadata, "tokenizer.ggml.token_type") as number[];
        assert.equal(types[v.tokens.indexOf("he")], TokenType.normal);
        // flagged special, or "<|…|>" (convert_hf_to_gguf's does_token_look_special): control
        for (const text of ["<|endoftext|>", "<|im_end|>", "<|fim_prefix|>", "<|file_sep|>"])
            assert.equal(types[v.special[text as keyof typeof v.special]], TokenType.control, text);
        // an added token that is neither: user-defined
        assert.equal(types[v.special["<think>"]], TokenType.userDefined);
        assert.equal(value(metadata, "tokenizer.ggml.eos_token_id"), v.special["<|im_end|>"]);
        assert.equal(value(metadata, "tokenizer.ggml.padding_token_id"), v.special["<|endoftext|>"]);
        assert.equal(value(metadata, "tokenizer.ggml.bos_token_id"), v.special["<|endoftext|>"], "Qwen has no BOS: <|endoftext|>, as llama.cpp's own Qwen GGUFs");
        assert.equal(value(metadata, "tokenizer.ggml.add_bos_token"), false);
        assert.equal(metadata["tokenizer.ggml.eos_token_id"]?.type, "uint32");
        const fim = { fim_pre: "<|fim_prefix|>", fim_suf: "<|fim_suffix|>", fim_mid: "<|fim_middle|>", fim_pad: "<|fim_pad|>", fim_rep: "<|repo_name|>", fim_sep: "<|file_sep|>" };
        for (const [key, text] of Object.entries(fim))
            assert.equal(value(metadata, `tokenizer.ggml.${key}_token_id`), v.special[text as keyof typeof v.special], key);
        assert.equal(value(metadata, "tokenizer.chat_template"), chatTemplate);
        assert.equal(definedTokens, nTokens);
        assert.equal(hasChatTemplate, true);
    });

    it("pads the vocabulary to config.json's vocab_size with unused [PAD<id>] tokens", async () => {
        const at = await folder("padded");
        const { metadata, definedTokens } = await convertTokenizer(sources(at, { vocabSize: nTokens + 5 }));
        const tokens = value(metadata, "tokenizer.ggml.tokens") as string[];
        const types = value(metadata, "tokenizer.ggml.token_type") as number[];
        assert.equal(tokens.length, nTokens + 5);
        assert.deepEqual(tokens.slice(nTokens), [nTokens, nTokens + 1, nTokens + 2, nTokens + 3, nTokens + 4].map((id) => `[PAD${id}]`));
        assert.deepEqual(types.slice(nTokens), new Array(5).fill(TokenType.unused));
        assert.equal(definedTokens, nTokens);
    });

    it("takes special ids from generation_config.json first (the first of an eos list), then tokenizer_config.json, then config.json", async () => {
        const at = await folder("ids");
        const fromGeneration = await convertTokenizer(sources(at, { generationConfig: { eos_token_id: [v.special["</think>"], 1], pad_token_id: 7 } }));
        assert.equal(value(fromGeneration.metadata, "tokenizer.ggml.eos_token_id"), v.special["</think>"]);
        assert.equal(value(fromGeneration.metadata, "tokenizer.ggml.padding_token_id"), 7);
        const configFile = path.join(at, "tokenizer_config.json");
        const config = JSON.parse(await readFile(configFile, "utf8")) as Record<string, unknown>;
        await writeFile(configFile, JSON.stringify({ ...config, eos_token: null, pad_token: { content: "<|fim_pad|>" }, add_bos_token: true }));
        const fromConfig = await convertTokenizer(sources(at, { config: { eos_token_id: 3 } }));
        assert.equal(value(fromConfig.metadata, "tokenizer.ggml.eos_token_id"), 3);
        assert.equal(value(fromConfig.metadata, "tokenizer.ggml.padding_token_id"), v.special["<|fim_pad|>"]);
        assert.equal(value(fromConfig.metadata, "tokenizer.ggml.add_bos_token"), true);
    });

    it("accepts merges as pairs and a chat template in chat_template.jinja", async () => {
        const at = await folder("pairs", { mergesAsPairs: true, templateFile: true });
        const { metadata } = await convertTokenizer(sources(at));
        assert.deepEqual(value(metadata, "tokenizer.ggml.merges"), v.merges);
        assert.equal(value(metadata, "tokenizer.chat_template"), chatTemplate);
    });

    it("refuses vocabularies that do not fit and tokenizers that are not byte-level BPE", async () => {
        const at = await folder("bad");
        const tokenizerFile = path.join(at, "tokenizer.json");
        const assertRefused = async (pattern: RegExp, overrides: Partial<TokenizerSources> = {}): Promise<void> => {
            await assert.rejects(convertTokenizer(sources(at, overrides)), (error: unknown) => {
                assert.ok(error instanceof EngineError && error.code === "modelFile");
                assert.match(error.message, pattern);
                return true;
            });
        };
        await assertRefused(/tokenizer\.json: the token "\S+" has id 300, beyond config\.json's vocab_size 300/, { vocabSize: 300 });
        const original = JSON.parse(await readFile(tokenizerFile, "utf8")) as { model: Record<string, unknown> };
        await writeFile(tokenizerFile, JSON.stringify({ ...original, model: { ...original.model, type: "Unigram" } }));
        await assertRefused(/tokenizer\.json is not what the converter expects: model\.type/);
        await writeFile(tokenizerFile, JSON.stringify({ ...original, model: { ...original.model, byte_fallback: true } }));
        await assertRefused(/byte-fallback BPE/);
        await rm(tokenizerFile);
        await assertRefused(/tokenizer\.json is missing/);
    });
});
