/**
 * A small GPT-2-style byte-level BPE vocabulary that llama.cpp loads as `tokenizer.ggml.model = "gpt2"`,
 * `tokenizer.ggml.pre = "qwen2"`, with Qwen's special tokens, plus a plain-TypeScript tokenizer for tests.
 */

/** GPT-2's byte → printable character table: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards. */
function byteToUnicodeTable(): string[] {
    const table: string[] = [];
    let next = 256;
    for (let byte = 0; byte < 256; byte++) {
        const printable = (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
        table.push(String.fromCodePoint(printable ? byte : next++));
    }
    return table;
}

export const byteToUnicode: readonly string[] = byteToUnicodeTable();
const unicodeToByte = new Map(byteToUnicode.map((char, byte) => [char, byte]));

/** Merges in priority order, as "left right" in byte-unicode form ("Ġ" is a space, "Ċ" a newline). */
const mergeList: readonly (readonly [string, string])[] = [
    ["Ġ", "t"], ["h", "e"], ["Ġ", "r"], ["i", "n"], ["Ġ", "a"], ["e", "r"], ["o", "n"], ["Ġt", "he"], ["r", "e"], ["a", "n"],
    ["Ġ", "s"], ["e", "n"], ["a", "t"], ["o", "r"], ["Ġ", "w"], ["Ġ", "c"], ["e", "s"], ["Ġ", "o"], ["i", "s"], ["i", "t"],
    ["Ġ", "f"], ["Ġ", "b"], ["Ġ", "p"], ["Ġ", "m"], ["a", "l"], ["a", "r"], ["d", "e"], ["Ġ", "d"], ["in", "g"], ["Ġ", "Ġ"],
    ["ĠĠ", "ĠĠ"], ["ĠĠ", "Ġ"], ["Ġ", "i"], ["e", "t"], ["u", "r"], ["Ġr", "et"], ["Ġret", "ur"], ["Ġretur", "n"], ["Ġ", "de"], ["Ġde", "f"],
    ["(", ")"], ["()", ":"], ["Ġ", "="], ["Ġ", "("], ["s", "e"], ["l", "f"], ["se", "lf"], ["Ġ", "in"], ["Ġ", "x"], ["Ċ", "Ċ"],
    ["l", "l"], ["he", "ll"], ["hell", "o"], ["Ġw", "or"], ["Ġwor", "l"], ["Ġworl", "d"], ["Ġ", "+"], ["Ġ", "y"], ["o", "u"], ["Ġ", "n"],
];

export const specialTokenTexts = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
] as const;

export type SpecialTokenText = (typeof specialTokenTexts)[number];

/** A Qwen3-style ChatML template (system / user / assistant turns and the generation prompt). */
export const chatTemplate =
    "{%- for message in messages -%}" +
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}" +
    "{%- endfor -%}" +
    "{%- if add_generation_prompt -%}" +
    "{{- '<|im_start|>assistant\\n' -}}" +
    "{%- endif -%}";

// llama.cpp's qwen2 pre-tokenizer split, with the (?i:...) contractions spelled out because JavaScript lacks inline flags.
const preTokenizer = /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

export interface TinyVocabulary {
    /** Token texts by id: 256 byte tokens (id = byte value), merge results, then special tokens. */
    readonly tokens: readonly string[];
    /** 1 = normal, 3 = control. */
    readonly tokenTypes: readonly number[];
    /** "left right", in priority order. */
    readonly merges: readonly string[];
    readonly special: Readonly<Record<SpecialTokenText, number>>;
}

function buildVocabulary(): TinyVocabulary {
    const tokens = [...byteToUnicode];
    const known = new Set(tokens);
    for (const [left, right] of mergeList) {
        if (!known.has(left) || !known.has(right) || known.has(left + right))
            throw new Error(`bad merge "${left} ${right}"`);
        tokens.push(left + right);
        known.add(left + right);
    }
    const special = {} as Record<SpecialTokenText, number>; // filled for every key just below
    for (const text of specialTokenTexts) {
        special[text] = tokens.length;
        tokens.push(text);
    }
    return {
        tokens,
        tokenTypes: tokens.map((_, id) => (id >= tokens.length - specialTokenTexts.length ? 3 : 1)),
        merges: mergeList.map(([left, right]) => `${left} ${right}`),
        special,
    };
}

export const tinyVocabulary: TinyVocabulary = buildVocabulary();

const tokenIds = new Map(tinyVocabulary.tokens.map((text, id) => [text, id]));
const mergeRanks = new Map(mergeList.map(([left, right], rank) => [`${left} ${right}`, rank]));

/** Byte-level BPE of one pre-token: repeatedly merge the adjacent pair of lowest rank, leftmost first. */
function bpe(piece: string): number[] {
    const parts = [...Buffer.from(piece, "utf8")].map((byte) => byteToUnicode[byte]);
    for (;;) {
        let best = -1;
        let bestRank = Infinity;
        for (let i = 0; i + 1 < parts.length; i++) {
            const rank = mergeRanks.get(`${parts[i]} ${parts[i + 1]}`);
            if (rank !== undefined && rank < bestRank) {
                best = i;
                bestRank = rank;
            }
        }
        if (best < 0)
            break;
        parts.splice(best, 2, parts[best] + parts[best + 1]);
    }
    return parts.map((part) => tokenIds.get(part)!);
}

/**
 * Tokenizes like llama.cpp does with this vocabulary. With `specials`, special-token texts in `text` become their
 * ids (as llama.cpp's `parse_special`); otherwise they are plain text.
 */
export function tokenize(text: string, { specials = false }: { specials?: boolean } = {}): number[] {
    const ids: number[] = [];
    const plain = (segment: string): void => {
        for (const match of segment.matchAll(preTokenizer))
            ids.push(...bpe(match[0]));
    };
    if (!specials) {
        plain(text);
        return ids;
    }
    const splitter = new RegExp(specialTokenTexts.map((s) => s.replace(/[|]/g, "\\|")).join("|"), "g");
    let last = 0;
    for (const match of text.matchAll(splitter)) {
        plain(text.slice(last, match.index));
        ids.push(tinyVocabulary.special[match[0] as SpecialTokenText]);
        last = match.index + match[0].length;
    }
    plain(text.slice(last));
    return ids;
}

/** Turns ids back into text; special tokens are written out only with `specials`. */
export function detokenize(ids: readonly number[], { specials = false }: { specials?: boolean } = {}): string {
    const bytes: number[] = [];
    for (const id of ids) {
        const text = tinyVocabulary.tokens[id];
        if (text === undefined)
            throw new Error(`token id ${id} is out of range`);
        if (tinyVocabulary.tokenTypes[id] === 3) {
            if (specials)
                bytes.push(...Buffer.from(text, "utf8"));
            continue;
        }
        for (const char of text)
            bytes.push(unicodeToByte.get(char)!);
    }
    return Buffer.from(bytes).toString("utf8");
}
