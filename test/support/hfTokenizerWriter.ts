/**
 * Hugging Face tokenizer files for the tiny vocabulary (test/support/tinyTokenizer.ts), shaped like Qwen3's:
 * tokenizer.json with a byte-level BPE model and the special tokens as added tokens, tokenizer_config.json with
 * the special tokens and the chat template (or the template in chat_template.jinja, as newer transformers save it).
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { chatTemplate, specialTokenTexts, tinyVocabulary } from "./tinyTokenizer.js";

export interface TokenizerFilesOptions {
    /** Merges as ["a", "b"] pairs (tokenizers ≥ 0.20) instead of "a b" strings. */
    readonly mergesAsPairs?: boolean;
    /** Write the chat template to chat_template.jinja instead of tokenizer_config.json. */
    readonly templateFile?: boolean;
}

/** Qwen3 flags only these added tokens as special; <think>, </think> and the FIM tokens are not. */
const qwenSpecial = new Set(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]);

export async function writeTokenizerFiles(dir: string, options: TokenizerFilesOptions = {}): Promise<void> {
    const v = tinyVocabulary;
    const vocab: Record<string, number> = {};
    v.tokens.forEach((text, id) => {
        if (!(specialTokenTexts as readonly string[]).includes(text))
            vocab[text] = id;
    });
    const added = specialTokenTexts.map((text) => ({
        id: v.special[text], content: text, single_word: false, lstrip: false, rstrip: false, normalized: false, special: qwenSpecial.has(text),
    }));
    const tokenizer = {
        version: "1.0",
        truncation: null,
        padding: null,
        added_tokens: added,
        normalizer: { type: "NFC" },
        pre_tokenizer: {
            type: "Sequence",
            pretokenizers: [
                { type: "Split", pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, behavior: "Isolated", invert: false },
                { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
            ],
        },
        post_processor: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
        decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
        model: {
            type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
            fuse_unk: false, byte_fallback: false, ignore_merges: false,
            vocab,
            merges: options.mergesAsPairs ? v.merges.map((merge) => merge.split(" ")) : v.merges,
        },
    };
    const config = {
        add_bos_token: false,
        add_prefix_space: false,
        added_tokens_decoder: Object.fromEntries(added.map(({ id, ...token }) => [String(id), token])),
        bos_token: null,
        ...(options.templateFile ? {} : { chat_template: chatTemplate }),
        clean_up_tokenization_spaces: false,
        eos_token: "<|im_end|>",
        errors: "replace",
        model_max_length: 131072,
        pad_token: "<|endoftext|>",
        split_special_tokens: false,
        tokenizer_class: "Qwen2Tokenizer",
        unk_token: null,
    };
    await writeFile(path.join(dir, "tokenizer.json"), JSON.stringify(tokenizer, null, 2));
    await writeFile(path.join(dir, "tokenizer_config.json"), JSON.stringify(config, null, 2));
    if (options.templateFile)
        await writeFile(path.join(dir, "chat_template.jinja"), chatTemplate);
}
