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
     * The most suffix tokens a PSM prompt carries: there the suffix follows the text being typed, so it is evaluated
     * again on every keystroke and its size is a cost per keystroke, chosen for the hardware. SPM ignores it.
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

/**
 * Lays out a FIM prompt from tokenized sides, keeping the end of the prefix and the start of the suffix when the
 * budget is short.
 * - PSM: `<fim_prefix>prefix<fim_suffix>suffix<fim_middle>`
 * - SPM: `<fim_prefix><fim_suffix>suffix<fim_middle>prefix` (the FIM paper's SPM variant, as StarCoder trains it):
 *   the text being typed comes last, so a keystroke leaves every token before it as it was.
 */
export function layoutFimPrompt(fim: FimTokens, prefixTokens: readonly number[], suffixTokens: readonly number[], budget: number, order: FimOrder, maxSuffixTokens = Number.POSITIVE_INFINITY): number[] {
    const room = Math.max(2, budget - 3);
    let suffixKeep = Math.min(suffixTokens.length, order === "psm" ? Math.max(0, Math.floor(maxSuffixTokens)) : suffixTokens.length);
    let prefixKeep = prefixTokens.length;
    if (prefixKeep + suffixKeep > room) {
        const suffixAvailable = suffixKeep;
        suffixKeep = Math.min(suffixKeep, Math.floor(room * suffixShare));
        prefixKeep = Math.min(prefixKeep, room - suffixKeep);
        suffixKeep = Math.min(suffixAvailable, room - prefixKeep);
    }
    const stride = Math.max(1, Math.min(prefixDropStride, Math.floor(prefixKeep / 8)));
    const drop = Math.ceil((prefixTokens.length - prefixKeep) / stride) * stride;
    const prefix = prefixTokens.slice(drop);
    const suffix = suffixTokens.slice(0, suffixKeep);
    return order === "spm"
        ? [fim.prefix, fim.suffix, ...suffix, fim.middle, ...prefix]
        : [fim.prefix, ...prefix, fim.suffix, ...suffix, fim.middle];
}

/**
 * Builds an inline-completion prompt: fill-in-the-middle when the model's GGUF metadata declares FIM tokens (in the
 * order its metadata says it was trained on, see fimOrder.ts), else the prefix alone.
 */
export function buildCompletionPrompt(model: PromptModel, prefix: string, suffix: string, budget: number, options: CompletionPromptOptions = {}): CompletionPrompt {
    const maxChars = budget * charsPerTokenBound;
    const fim = model.fimTokens;
    const prefixTokens = model.tokenize(prefix.slice(-maxChars));
    if (fim === undefined) {
        const keep = Math.max(1, Math.min(prefixTokens.length, budget));
        return { tokens: prefixTokens.slice(prefixTokens.length - keep), mode: "prefix" };
    }
    const order = options.order ?? preferredFimOrder(fimOrdersOf(model.llamaModel.fileInfo.metadata));
    const suffixTokens = model.tokenize(suffix.slice(0, maxChars));
    return { tokens: layoutFimPrompt(fim, prefixTokens, suffixTokens, budget, order, options.maxSuffixTokens), mode: "fim", order };
}
