import type { Candidate, TokenRecord } from "../evaluator/tokenRecords.js";
import type { TahModel } from "../model/TahModel.js";
import type { AnalyzedToken, CandidateView, TokenView } from "../protocol/engineProtocol.js";

function candidateViews(model: TahModel, candidates: readonly Candidate[]): CandidateView[] {
    return candidates.map((candidate) => ({ token: candidate.token, piece: model.detokenize([candidate.token], true), prob: candidate.prob }));
}

/** A token as the UI shows it, with the record of the position whose logits chose it. */
export function tokenView(model: TahModel, token: number, text: string, record: TokenRecord): TokenView {
    return {
        token,
        piece: model.detokenize([token], true),
        text,
        difficulty: record.difficulty,
        difficultyIsProxy: record.difficultyIsProxy,
        iterated: record.iterated,
        changed: record.changed,
        before: candidateViews(model, record.before),
        after: candidateViews(model, record.after),
        depth: record.depth,
        pContinue: record.pContinue
    };
}

/**
 * Character spans of tokens in the text they were made from. A byte-level token may end inside a multi-byte
 * character; such tokens are grouped with the following ones until the group decodes cleanly, and share its span.
 */
export function tokenSpans(model: TahModel, tokens: readonly number[]): Array<{ start: number; end: number }> {
    const spans: Array<{ start: number; end: number }> = [];
    let offset = 0;
    let group: number[] = [];
    for (const token of tokens) {
        group.push(token);
        const text = model.detokenize(group);
        if (text.includes("\uFFFD") && group.length < 4)
            continue;
        for (let i = 0; i < group.length; i++)
            spans.push({ start: offset, end: offset + text.length });
        offset += text.length;
        group = [];
    }
    for (let i = 0; i < group.length; i++)
        spans.push({ start: offset, end: offset });
    return spans;
}

/** Analysed tokens: token j's difficulty comes from the record of position j − 1, which predicted it. */
export function analyzedTokens(model: TahModel, tokens: readonly number[], records: readonly TokenRecord[]): AnalyzedToken[] {
    const spans = tokenSpans(model, tokens);
    const result: AnalyzedToken[] = [];
    for (let j = 1; j < tokens.length; j++) {
        const record = records[j - 1];
        if (record === undefined)
            continue;
        result.push({ ...tokenView(model, tokens[j], "", record), ...spans[j] });
    }
    return result;
}
