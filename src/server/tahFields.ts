/**
 * TaH's signal in the server's answers. `usage.iter_counts` / `usage.prompt_iter_counts` have the names and shape of
 * upstream TaH2's server (tah2/minisgl): one entry per token of the answer (of the prompt), the passes the model made
 * for it (1, or 2 where a TaH v1 model iterated), and `[]` where the engine does not report them (the prompt's are
 * reported when the request asks for `tah_difficulty`). `tah_tokens`
 * (asked for with `tah_difficulty: true`) gives each answer token's P(hard) and whether it iterated.
 */
import type { ModelSummary, TokenView } from "../engine/protocol/engineProtocol.js";
import type { Generation } from "./generation.js";

export interface TahUsage {
    /** null when a stop string ended the engine's call before it reported the prompt's size. */
    prompt_tokens: number | null;
    completion_tokens: number;
    total_tokens: number | null;
    /** Per answer token, the passes that produced it: 1, or 2 where it iterated (a plain model: always 1). */
    iter_counts: number[];
    /**
     * Per prompt token, the same, when the request asked for `tah_difficulty` (the prompt is then evaluated whole);
     * `[]` otherwise, as upstream answers when its engine does not supply them (and when a stop string cut the call).
     */
    prompt_iter_counts: number[];
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
        iter_counts: generation.tokens.map((token) => (kind === "tah" && token.iterated ? 2 : 1)),
        prompt_iter_counts: generation.promptIterated?.map((iterated) => (kind === "tah" && iterated ? 2 : 1)) ?? []
    };
}

export function tahTokens(tokens: readonly TokenView[]): TahToken[] {
    return tokens.map((token) => ({ token: token.token, text: token.text, p_hard: token.difficulty, p_hard_is_proxy: token.difficultyIsProxy, iterated: token.iterated }));
}
