/**
 * A Hugging Face byte-level BPE tokenizer (tokenizer.json + tokenizer_config.json) as the GGUF tokenizer section
 * llama.cpp reads for Qwen: model "gpt2", pre-tokenizer "qwen2", tokens by id, token types, merges, special ids,
 * the chat template and the fill-in-the-middle tokens. Follows llama.cpp's convert_hf_to_gguf.py.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { gguf, type GgufMetadataValue } from "../gguf/ggufTypes.js";
import { readRegularFile } from "../engine/model/safeFiles.js";
import { EngineError } from "../engine/protocol/EngineError.js";
import { readJsonFile } from "./jsonFile.js";

/** llama.cpp's token types (`enum llama_token_type`). */
export const TokenType = { normal: 1, control: 3, userDefined: 4, unused: 5 } as const;

const tokenIdSchema = z.number().int().nonnegative();

const tokenizerJsonSchema = z.object({
    model: z.object({
        type: z.literal("BPE"),
        vocab: z.record(z.string(), tokenIdSchema),
        merges: z.array(z.union([z.string(), z.tuple([z.string(), z.string()])])),
        byte_fallback: z.boolean().optional(),
    }),
    added_tokens: z.array(z.object({ id: tokenIdSchema, content: z.string(), special: z.boolean() })).default([]),
});

/** A special token as tokenizer_config.json writes it: the text, or an AddedToken object. */
const specialTokenSchema = z.union([z.string(), z.object({ content: z.string() })]).nullish();

const tokenizerConfigSchema = z.object({
    chat_template: z.union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))]).optional(),
    add_bos_token: z.boolean().nullish(),
    bos_token: specialTokenSchema,
    eos_token: specialTokenSchema,
    pad_token: specialTokenSchema,
});

/** generation_config.json and config.json both may carry the ids; eos may be a list (the first one is the main). */
const idOrIds = z.union([tokenIdSchema, z.array(tokenIdSchema).min(1)]).nullish();
export const specialIdsSchema = z.object({ bos_token_id: idOrIds, eos_token_id: idOrIds, pad_token_id: idOrIds });
export type SpecialIds = z.infer<typeof specialIdsSchema>;

export interface TokenizerSources {
    readonly dir: string;
    /** config.json's vocab_size: the rows of the embedding matrix, which the token list is padded to. */
    readonly vocabSize: number;
    /** Special ids from generation_config.json (first choice) and config.json (last). */
    readonly generationConfig: SpecialIds;
    readonly config: SpecialIds;
}

export interface ConvertedTokenizer {
    readonly metadata: Record<string, GgufMetadataValue>;
    /** Tokens the tokenizer defines; the rest up to vocabSize are padding. */
    readonly definedTokens: number;
    readonly hasChatTemplate: boolean;
}

const fimTokens = [
    ["fim_pre", "<|fim_prefix|>"], ["fim_suf", "<|fim_suffix|>"], ["fim_mid", "<|fim_middle|>"],
    ["fim_pad", "<|fim_pad|>"], ["fim_rep", "<|repo_name|>"], ["fim_sep", "<|file_sep|>"],
] as const;

/** convert_hf_to_gguf.py's does_token_look_special: such added tokens are control tokens even if not flagged special. */
function looksSpecial(text: string): boolean {
    return ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(text)
        || (text.startsWith("<|") && text.endsWith("|>"))
        || (text.startsWith("<｜") && text.endsWith("｜>"))
        || (text.startsWith("<unused") && text.endsWith(">"));
}

function firstId(value: number | number[] | null | undefined): number | undefined {
    return Array.isArray(value) ? value[0] : value ?? undefined;
}

/** Chat templates are a few kilobytes (Qwen3's: 4 KB). */
const maxTemplateBytes = 1 << 20;

async function chatTemplateOf(dir: string, configFile: string, template: z.infer<typeof tokenizerConfigSchema>["chat_template"]): Promise<string | undefined> {
    if (typeof template === "string")
        return template;
    if (Array.isArray(template)) {
        const named = template.find((entry) => entry.name === "default");
        if (named === undefined)
            throw new EngineError("modelFile", `${configFile}: chat_template lists named templates but none is called "default"`);
        return named.template;
    }
    // transformers ≥ 4.50 may keep the template in its own file.
    const jinja = path.join(dir, "chat_template.jinja");
    return existsSync(jinja) ? (await readRegularFile(jinja, { maxBytes: maxTemplateBytes })).toString("utf8") : undefined;
}

export async function convertTokenizer(sources: TokenizerSources): Promise<ConvertedTokenizer> {
    const tokenizerFile = path.join(sources.dir, "tokenizer.json");
    const configFile = path.join(sources.dir, "tokenizer_config.json");
    const tokenizer = await readJsonFile(tokenizerFile, tokenizerJsonSchema);
    const tokenizerConfig = await readJsonFile(configFile, tokenizerConfigSchema);
    if (tokenizer.model.byte_fallback === true)
        throw new EngineError("modelFile", `${tokenizerFile}: a byte-fallback BPE (SentencePiece style) is not Qwen's byte-level BPE`);

    const { vocabSize } = sources;
    const tokens = new Array<string | undefined>(vocabSize).fill(undefined);
    const types: number[] = new Array<number>(vocabSize).fill(TokenType.unused);
    const place = (id: number, text: string, type: number, what: string): void => {
        if (id >= vocabSize)
            throw new EngineError("modelFile", `${tokenizerFile}: ${what} "${text}" has id ${id}, beyond config.json's vocab_size ${vocabSize}`);
        tokens[id] = text;
        types[id] = type;
    };
    const seen = new Map<number, string>();
    for (const [text, id] of Object.entries(tokenizer.model.vocab)) {
        if (seen.has(id))
            throw new EngineError("modelFile", `${tokenizerFile}: the tokens "${seen.get(id)}" and "${text}" share the id ${id}`);
        seen.set(id, text);
        place(id, text, TokenType.normal, "the token");
    }
    // Added tokens take their id's slot (as in Hugging Face's tokenizers); their text is used as-is.
    for (const added of tokenizer.added_tokens)
        place(added.id, added.content, added.special || looksSpecial(added.content) ? TokenType.control : TokenType.userDefined, "the added token");
    const definedTokens = tokens.filter((token) => token !== undefined).length;
    const texts = tokens.map((token, id) => token ?? `[PAD${id}]`);

    const idOfText = new Map(texts.map((text, id) => [text, id]));
    const byText = (value: z.infer<typeof specialTokenSchema>, key: string): number | undefined => {
        if (value === null || value === undefined)
            return undefined;
        const text = typeof value === "string" ? value : value.content;
        const id = idOfText.get(text);
        if (id === undefined)
            throw new EngineError("modelFile", `${configFile}: ${key} "${text}" is not in the vocabulary`);
        return id;
    };
    const special = (kind: "bos" | "eos" | "pad"): number | undefined => {
        const id = firstId(sources.generationConfig[`${kind}_token_id`])
            ?? byText(tokenizerConfig[`${kind}_token`], `${kind}_token`)
            ?? firstId(sources.config[`${kind}_token_id`]);
        if (id !== undefined && id >= vocabSize)
            throw new EngineError("modelFile", `${sources.dir}: the ${kind} token id ${id} is beyond vocab_size ${vocabSize}`);
        return id;
    };
    // Qwen defines no BOS; llama.cpp's own Qwen GGUFs use <|endoftext|>, and without an id llama.cpp would assume 11.
    const eos = special("eos") ?? idOfText.get("<|endoftext|>");
    const bos = special("bos") ?? idOfText.get("<|endoftext|>");
    const pad = special("pad");
    if (eos === undefined)
        throw new EngineError("modelFile", `${sources.dir}: no end-of-sequence token (generation_config.json, tokenizer_config.json and config.json name none)`);

    const metadata: Record<string, GgufMetadataValue> = {
        "tokenizer.ggml.model": gguf.string("gpt2"),
        "tokenizer.ggml.pre": gguf.string("qwen2"),
        "tokenizer.ggml.tokens": gguf.array("string", texts),
        "tokenizer.ggml.token_type": gguf.array("int32", types),
        "tokenizer.ggml.merges": gguf.array("string", tokenizer.model.merges.map((merge) => (typeof merge === "string" ? merge : merge.join(" ")))),
        "tokenizer.ggml.eos_token_id": gguf.uint32(eos),
        ...(bos !== undefined ? { "tokenizer.ggml.bos_token_id": gguf.uint32(bos) } : {}),
        ...(pad !== undefined ? { "tokenizer.ggml.padding_token_id": gguf.uint32(pad) } : {}),
        "tokenizer.ggml.add_bos_token": gguf.bool(tokenizerConfig.add_bos_token ?? false),
    };
    for (const [key, text] of fimTokens) {
        const id = idOfText.get(text);
        if (id !== undefined)
            metadata[`tokenizer.ggml.${key}_token_id`] = gguf.uint32(id);
    }
    const template = await chatTemplateOf(sources.dir, configFile, tokenizerConfig.chat_template);
    if (template !== undefined)
        metadata["tokenizer.chat_template"] = gguf.string(template);
    return { metadata, definedTokens, hasChatTemplate: template !== undefined };
}
