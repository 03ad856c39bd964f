import type { NativeStepResult } from "../native/tahBindings.js";

export interface Candidate {
    token: number;
    logit: number;
    prob: number;
}

/**
 * What the engine knows about one position: the decider's view of how hard the next token is, whether the
 * position iterated, and the ranked candidates before (depth 0) and after (final logits) the latent pass.
 */
export interface TokenRecord {
    position: number;
    token: number;
    /** The decider's probability after depth 0 (v1: P(hard); TaH2: the continue probability g_0); null for a plain model. */
    pHard: number | null;
    /** The deepest depth the position ran, 0-based (v1: 0 or 1; TaH2: up to max_iter − 1). */
    depth: number;
    /** The decider's probability at each depth it ran at (v1: [pHard]; TaH2: g_0 … g_depth, without the last depth's); [] for a plain model. */
    pContinue: number[];
    /** P(hard) for a TaH model, else the proxy 1 − p(top candidate). */
    difficulty: number;
    difficultyIsProxy: boolean;
    iterated: boolean;
    /** The deeper depths changed the top choice. */
    changed: boolean;
    /** Depth 0's candidates. */
    before: Candidate[];
    /** The final candidates: v1 the summed logits; TaH2 the mixture, whose `logit` is log P. */
    after: Candidate[];
}

function candidates(ids: Int32Array, logits: Float32Array, lse: number, row: number, topN: number): Candidate[] {
    const result: Candidate[] = [];
    for (let k = 0; k < topN; k++) {
        const logit = logits[row * topN + k];
        result.push({ token: ids[row * topN + k], logit, prob: Math.exp(logit - lse) });
    }
    return result;
}

/** Turns the native structure of arrays into records; tokens are the batch, startPosition its first position. */
export function recordsOf(result: NativeStepResult, tokens: readonly number[], startPosition: number, isTah: boolean): TokenRecord[] {
    const records: TokenRecord[] = [];
    for (let r = 0; r < result.records; r++) {
        const index = result.recordFrom + r;
        const before = candidates(result.top0Ids, result.top0Logits, result.lse0[r], r, result.topN);
        const after = candidates(result.topFinalIds, result.topFinalLogits, result.lseFinal[r], r, result.topN);
        const pHard = isTah ? result.pHard[r] : null;
        const depth = result.depth[r];
        const stride = result.pContinueStride;
        // the decider runs after every depth the token ran but the last one it may run; NaN marks where it did not
        const pContinue = isTah ? Array.from(result.pContinue.subarray(r * stride, (r + 1) * stride)).filter((p) => !Number.isNaN(p)) : [];
        records.push({
            position: startPosition + index,
            token: tokens[index],
            pHard,
            depth,
            pContinue,
            difficulty: pHard ?? 1 - before[0].prob,
            difficultyIsProxy: pHard === null,
            iterated: result.iterated[r] === 1,
            changed: before[0].token !== after[0].token,
            before,
            after
        });
    }
    return records;
}
