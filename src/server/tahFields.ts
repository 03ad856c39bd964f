/**
 * TaH's signal in the server's answers. `usage.iter_counts` / `usage.prompt_iter_counts` are named as upstream TaH2's
 * server names them: per depth beyond the first, how many tokens of the answer (of the prompt) reached it. `tah_tokens`
 * (asked for with `tah_difficulty: true`) gives each answer token's P(hard) and whether it iterated.
 */
import type { ModelSummary, TokenView } from "../engine/protocol/engineProtocol.js";
import type { Generation } from "./generation.js";

export interface TahUsage {
    /** null when a stop string ended the engine's call before it reported the prompt's size. */
    prompt_tokens: number | null;
    completion_tokens: number;
    total_tokens: number | null;
    /** TaH v1 has one depth beyond the first: one count; a plain model none. */
    iter_counts: number[];
    /** null: the engine does not report how many prompt tokens iterated yet. */
    prompt_iter_counts: number[] | null;
}

export interface TahToken {
    token: number;
    text: string;
    /** P(hard) from the decider; for a plain model the proxy 1 − p(top), flagged by p_hard_is_proxy. */
    p_hard: number;
    p_hard_is_proxy: boolean;
    iterated: boolean;
}

export function usageOf(generation: Generation, kind: ModelSummary["kind"] | undefined): TahUsage {
    const completion = generation.tokens.length;
    return {
        prompt_tokens: generation.promptTokens,
        completion_tokens: completion,
        total_tokens: generation.promptTokens === null ? null : generation.promptTokens + completion,
        iter_counts: kind === "tah" ? [generation.tokens.filter((token) => token.iterated).length] : [],
        prompt_iter_counts: null
    };
}

export function tahTokens(tokens: readonly TokenView[]): TahToken[] {
    return tokens.map((token) => ({ token: token.token, text: token.text, p_hard: token.difficulty, p_hard_is_proxy: token.difficultyIsProxy, iterated: token.iterated }));
}
