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
    /** The decider's P(hard); null for a plain model. */
    pHard: number | null;
    /** P(hard) for a TaH model, else the proxy 1 − p(top candidate). */
    difficulty: number;
    difficultyIsProxy: boolean;
    iterated: boolean;
    /** Depth 1 changed the top choice. */
    changed: boolean;
    before: Candidate[];
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
        records.push({
            position: startPosition + index,
            token: tokens[index],
            pHard,
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
