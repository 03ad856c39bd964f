import type { TahModel } from "../model/TahModel.js";

export interface CompletionPrompt {
    tokens: number[];
    mode: "fim" | "prefix";
}

/** Share of the prompt budget the suffix may take when both sides do not fit. */
const suffixShare = 0.25;

/**
 * Characters per token kept before tokenizing: code averages 3–4, so a side cut to this many characters per token of
 * budget still fills the budget, while a 2-million-character prefix is not tokenized whole to keep its last tokens.
 */
export const charsPerTokenBound = 16;

/**
 * Builds an inline-completion prompt: fill-in-the-middle (`<fim_prefix>prefix<fim_suffix>suffix<fim_middle>`)
 * when the model's GGUF metadata declares FIM tokens, else the prefix alone. Keeps the end of the prefix and
 * the start of the suffix when the budget is short.
 */
export function buildCompletionPrompt(model: TahModel, prefix: string, suffix: string, budget: number): CompletionPrompt {
    const maxChars = budget * charsPerTokenBound;
    const fim = model.fimTokens;
    const prefixTokens = model.tokenize(prefix.slice(-maxChars));
    if (fim === undefined) {
        const keep = Math.max(1, Math.min(prefixTokens.length, budget));
        return { tokens: prefixTokens.slice(prefixTokens.length - keep), mode: "prefix" };
    }

    const suffixTokens = model.tokenize(suffix.slice(0, maxChars));
    const room = Math.max(2, budget - 3);
    let suffixKeep = suffixTokens.length;
    let prefixKeep = prefixTokens.length;
    if (prefixKeep + suffixKeep > room) {
        suffixKeep = Math.min(suffixKeep, Math.floor(room * suffixShare));
        prefixKeep = Math.min(prefixKeep, room - suffixKeep);
        suffixKeep = Math.min(suffixTokens.length, room - prefixKeep);
    }
    return {
        tokens: [
            fim.prefix, ...prefixTokens.slice(prefixTokens.length - prefixKeep),
            fim.suffix, ...suffixTokens.slice(0, suffixKeep),
            fim.middle
        ],
        mode: "fim"
    };
}
