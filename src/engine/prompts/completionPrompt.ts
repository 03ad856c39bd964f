import type { FimTokens, TahModel } from "../model/TahModel.js";
import { type FimOrder, fimOrdersOf, preferredFimOrder } from "./fimOrder.js";

/** What a completion prompt needs of a model (the benchmark's plain llama.cpp baseline provides it too). */
export type PromptModel = Pick<TahModel, "fimTokens" | "tokenize"> & { llamaModel: { fileInfo: { metadata: object } } };

export interface CompletionPrompt {
    tokens: number[];
    mode: "fim" | "prefix";
    /** The FIM order the prompt uses (fim mode only). */
    order?: FimOrder;
}

export interface CompletionPromptOptions {
    /** The FIM order; the model's preferred one (SPM when its metadata declares it) by default. */
    order?: FimOrder;
    /**
     * The most suffix tokens a PSM prompt carries: there the suffix follows the lines before the cursor's, so it is
     * evaluated again whenever the cursor's line changes, a cost chosen for the hardware. SPM ignores it.
     */
    maxSuffixTokens?: number;
}

/** Share of the prompt budget the suffix may take when both sides do not fit. */
const suffixShare = 0.25;

/**
 * A prefix too long for the budget loses its start in steps of up to this many tokens (an eighth of what it keeps, for
 * small budgets): cutting exactly to the budget would move the prompt's first token on every keystroke and so throw
 * away every cached token after it.
 */
export const prefixDropStride = 64;

/**
 * Characters per token kept before tokenizing: code averages 3–4, so a side cut to this many characters per token of
 * budget still fills the budget, while a 2-million-character prefix is not tokenized whole to keep its last tokens.
 */
export const charsPerTokenBound = 16;

export interface FimLayoutOptions {
    /** The most suffix tokens a PSM prompt carries (see CompletionPromptOptions); SPM ignores it. */
    maxSuffixTokens?: number;
    /**
     * How many of the prefix's last tokens are the cursor's line (up to the cursor). PSM puts them after
     * `<fim_middle>`, as the start of the middle, the way llama.cpp's /infill places its `prompt`: typing on a line
     * then changes only the prompt's end, and the suffix's KV survives the keystroke.
     */
    cursorLineTokens?: number;
}

/**
 * Lays out a FIM prompt from tokenized sides, keeping the end of the prefix and the start of the suffix when the
 * budget is short.
 * - PSM: `<fim_prefix>prefix up to the cursor's line<fim_suffix>suffix<fim_middle>the cursor's line up to the cursor`
 * - SPM: `<fim_prefix><fim_suffix>suffix<fim_middle>prefix` (the FIM paper's SPM variant, as StarCoder trains it):
 *   the text being typed comes last, so a keystroke leaves every token before it as it was, also across lines.
 */
export function layoutFimPrompt(fim: FimTokens, prefixTokens: readonly number[], suffixTokens: readonly number[], budget: number, order: FimOrder, options: FimLayoutOptions = {}): number[] {
    const room = Math.max(2, budget - 3);
    let suffixKeep = Math.min(suffixTokens.length, order === "psm" ? Math.max(0, Math.floor(options.maxSuffixTokens ?? Number.POSITIVE_INFINITY)) : suffixTokens.length);
    let prefixKeep = prefixTokens.length;
    if (prefixKeep + suffixKeep > room) {
        const suffixAvailable = suffixKeep;
        suffixKeep = Math.min(suffixKeep, Math.floor(room * suffixShare));
        prefixKeep = Math.min(prefixKeep, room - suffixKeep);
        suffixKeep = Math.min(suffixAvailable, room - prefixKeep);
    }
    const stride = Math.max(1, Math.min(prefixDropStride, Math.floor(prefixKeep / 8)));
    const drop = Math.ceil((prefixTokens.length - prefixKeep) / stride) * stride;
    const suffix = suffixTokens.slice(0, suffixKeep);
    if (order === "spm")
        return [fim.prefix, fim.suffix, ...suffix, fim.middle, ...prefixTokens.slice(drop)];
    const lineStart = Math.max(drop, prefixTokens.length - Math.max(0, Math.min(prefixTokens.length, options.cursorLineTokens ?? 0)));
    return [fim.prefix, ...prefixTokens.slice(drop, lineStart), fim.suffix, ...suffix, fim.middle, ...prefixTokens.slice(lineStart)];
}

/**
 * Builds an inline-completion prompt: fill-in-the-middle when the model's GGUF metadata declares FIM tokens (in the
 * order its metadata says it was trained on, see fimOrder.ts), else the prefix alone.
 */
export function buildCompletionPrompt(model: PromptModel, prefix: string, suffix: string, budget: number, options: CompletionPromptOptions = {}): CompletionPrompt {
    const maxChars = budget * charsPerTokenBound;
    const fim = model.fimTokens;
    const kept = prefix.slice(-maxChars);
    // the cursor's line is tokenized on its own (a line break ends a pre-token in Qwen's and GPT-2's splits, so this
    // is how the whole prefix tokenizes too): its tokens can then go after <fim_middle> in PSM
    const lineStart = kept.lastIndexOf("\n") + 1;
    const lineTokens = model.tokenize(kept.slice(lineStart));
    const prefixTokens = [...(lineStart > 0 ? model.tokenize(kept.slice(0, lineStart)) : []), ...lineTokens];
    if (fim === undefined) {
        const keep = Math.max(1, Math.min(prefixTokens.length, budget));
        return { tokens: prefixTokens.slice(prefixTokens.length - keep), mode: "prefix" };
    }
    const order = options.order ?? preferredFimOrder(fimOrdersOf(model.llamaModel.fileInfo.metadata));
    const suffixTokens = model.tokenize(suffix.slice(0, maxChars));
    return { tokens: layoutFimPrompt(fim, prefixTokens, suffixTokens, budget, order, { maxSuffixTokens: options.maxSuffixTokens, cursorLineTokens: lineTokens.length }), mode: "fim", order };
}
