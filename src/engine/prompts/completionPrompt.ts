import type { TahModel } from "../model/TahModel.js";

export interface CompletionPrompt {
    tokens: number[];
    mode: "fim" | "prefix";
    /** Prefix/suffix tokens dropped to fit the budget. */
    droppedPrefixTokens: number;
    droppedSuffixTokens: number;
}

/** Share of the prompt budget the suffix may take when both sides do not fit. */
const suffixShare = 0.25;

/**
 * Builds an inline-completion prompt: fill-in-the-middle (`<fim_prefix>prefix<fim_suffix>suffix<fim_middle>`)
 * when the model's GGUF metadata declares FIM tokens, else the prefix alone. Keeps the end of the prefix and
 * the start of the suffix when the budget is short.
 */
export function buildCompletionPrompt(model: TahModel, prefix: string, suffix: string, budget: number): CompletionPrompt {
    const fim = model.fimTokens;
    const prefixTokens = model.tokenize(prefix);
    if (fim === undefined) {
        const keep = Math.max(1, Math.min(prefixTokens.length, budget));
        return { tokens: prefixTokens.slice(prefixTokens.length - keep), mode: "prefix", droppedPrefixTokens: prefixTokens.length - keep, droppedSuffixTokens: 0 };
    }

    const suffixTokens = model.tokenize(suffix);
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
        mode: "fim",
        droppedPrefixTokens: prefixTokens.length - prefixKeep,
        droppedSuffixTokens: suffixTokens.length - suffixKeep
    };
}
