/**
 * A real byte-level BPE vocabulary for the bench models: OpenAI's cl100k_base (from js-tiktoken), the vocabulary that
 * Qwen2 and Qwen3 extend, written as a llama.cpp "gpt2" tokenizer with Qwen2's pre-tokenizer. Code then costs as many
 * tokens as it does on a Qwen model (about 3–4 characters per token), so prompt lengths, KV sizes and attention costs
 * in the benchmark are the real ones.
 */
import cl100k from "js-tiktoken/ranks/cl100k_base";
import { gguf, type GgufMetadata } from "../src/gguf/ggufTypes.js";
import { byteToUnicode } from "../test/support/tinyTokenizer.js";

/** cl100k's tokens by rank, each as its bytes in a one-character-per-byte string (ranks past `limit` left out). */
function ranksBelow(limit: number): string[] {
    const byRank: string[] = [];
    for (const line of cl100k.bpe_ranks.split("\n")) {
        const [, offsetText, ...encoded] = line.split(" ");
        const offset = Number.parseInt(offsetText ?? "", 10);
        encoded.forEach((token, i) => {
            if (offset + i < limit)
                byRank[offset + i] = Buffer.from(token, "base64").toString("latin1");
        });
    }
    return byRank;
}

/**
 * The two tokens whose merge makes the token of `rank`: byte-pair encoding of its bytes with every lower-ranked merge,
 * which ends in two parts for a token BPE can produce (as Hugging Face's tiktoken converter derives merges).
 */
function mergeOf(bytes: string, rank: number, rankOf: ReadonlyMap<string, number>): [string, string] | undefined {
    let parts = [...bytes];
    for (;;) {
        let best = -1;
        let bestRank = rank;
        for (let i = 0; i + 1 < parts.length; i++) {
            const pairRank = rankOf.get(parts[i] + parts[i + 1]);
            if (pairRank !== undefined && pairRank < bestRank) {
                bestRank = pairRank;
                best = i;
            }
        }
        if (best < 0)
            break;
        parts = [...parts.slice(0, best), parts[best] + parts[best + 1], ...parts.slice(best + 2)];
    }
    return parts.length === 2 ? [parts[0], parts[1]] : undefined;
}

const specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>"];

/**
 * A vocabulary of exactly `size` entries: cl100k's lowest ranks (all of them when they fit), Qwen's special tokens,
 * then printable pieces that tokenizing never produces but a random model may draw, so every id decodes to text.
 */
export function codeVocabulary(size: number): GgufMetadata {
    const chars = byteToUnicode;
    const toText = (bytes: string): string => Array.from(bytes, (byte) => chars[byte.charCodeAt(0)]).join("");
    const byRank = ranksBelow(size - specials.length);
    const rankOf = new Map(byRank.map((bytes, rank) => [bytes, rank]));
    const tokens: string[] = [];
    const types: number[] = [];
    const merges: string[] = [];
    const known = new Set<string>();
    byRank.forEach((bytes, rank) => {
        const text = toText(bytes);
        tokens[rank] = text;
        types[rank] = 1;
        known.add(text);
        const merge = bytes.length > 1 ? mergeOf(bytes, rank, rankOf) : undefined;
        if (merge !== undefined)
            merges.push(`${toText(merge[0])} ${toText(merge[1])}`);
    });
    const specialIds = new Map<string, number>();
    for (const special of specials) {
        specialIds.set(special, tokens.length);
        tokens.push(special);
        types.push(3);
    }
    const letters = chars.slice(33, 127);
    const pieces = function* (): Generator<string> {
        for (const a of letters)
            for (const b of letters)
                for (const c of ["", ...letters])
                    yield chars[32] + a + b + c;
    };
    for (const piece of pieces()) {
        if (tokens.length >= size)
            break;
        if (!known.has(piece)) {
            tokens.push(piece);
            types.push(1);
        }
    }
    const id = (special: string): number => specialIds.get(special)!;
    return {
        "tokenizer.ggml.model": gguf.string("gpt2"),
        "tokenizer.ggml.pre": gguf.string("qwen2"),
        "tokenizer.ggml.tokens": gguf.array("string", tokens),
        "tokenizer.ggml.token_type": gguf.array("int32", types),
        "tokenizer.ggml.merges": gguf.array("string", merges),
        "tokenizer.ggml.eos_token_id": gguf.uint32(id("<|im_end|>")),
        "tokenizer.ggml.padding_token_id": gguf.uint32(id("<|endoftext|>")),
        "tokenizer.ggml.bos_token_id": gguf.uint32(id("<|endoftext|>")),
        "tokenizer.ggml.add_bos_token": gguf.bool(false),
        "tokenizer.ggml.fim_pre_token_id": gguf.uint32(id("<|fim_prefix|>")),
        "tokenizer.ggml.fim_suf_token_id": gguf.uint32(id("<|fim_suffix|>")),
        "tokenizer.ggml.fim_mid_token_id": gguf.uint32(id("<|fim_middle|>"))
    };
}
