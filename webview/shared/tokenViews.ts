// Token views as a webview message brings them, checked before anything renders them: a record without the
// protocol's shape (a missing or non-string text, a difficulty that is not a finite number, a depth record that
// tokenDepth cannot read) is dropped, and arrays are bounded, so a malformed or oversized message can neither hang
// the page nor show made-up values. What is dropped is left out, not repaired.
import { tokenDepth } from "../../src/difficulty/tokenDepth.js";
import type { CandidateView, TokenView } from "../../src/engine/protocol/engineProtocol.js";

/** Beyond any answer's token limit; a longer list is cut here. */
export const maxTokensPerMessage = 65_536;
/** The tooltip shows five; the engine sends up to ten. */
export const maxCandidates = 10;

type Fields = Partial<Record<string, unknown>>;

const isRecord = (value: unknown): value is Fields => typeof value === "object" && value !== null && !Array.isArray(value);
const isFiniteNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);
// float rounding can put a computed probability a hair outside [0, 1]: clamped, not dropped
const probability = (value: number): number => Math.min(1, Math.max(0, value));

function candidates(raw: unknown): CandidateView[] | undefined {
    if (!Array.isArray(raw))
        return undefined;
    const checked: CandidateView[] = [];
    for (const item of raw.slice(0, maxCandidates) as unknown[]) {
        if (!isRecord(item) || typeof item.token !== "number" || typeof item.piece !== "string" || !isFiniteNumber(item.prob))
            return undefined;
        checked.push({ token: item.token, piece: item.piece, prob: probability(item.prob) });
    }
    return checked;
}

/** The token view a message holds, rebuilt from checked fields; undefined when it is not one. */
export function checkedTokenView(raw: unknown): TokenView | undefined {
    if (!isRecord(raw) || typeof raw.token !== "number" || typeof raw.piece !== "string" || typeof raw.text !== "string" || !isFiniteNumber(raw.difficulty))
        return undefined;
    const { difficultyIsProxy, iterated, changed } = raw;
    if (typeof difficultyIsProxy !== "boolean" || typeof iterated !== "boolean" || typeof changed !== "boolean")
        return undefined;
    const before = candidates(raw.before);
    const after = candidates(raw.after);
    if (before === undefined || after === undefined)
        return undefined;
    const view: TokenView = { token: raw.token, piece: raw.piece, text: raw.text, difficulty: probability(raw.difficulty), difficultyIsProxy, iterated, changed, before, after };
    if (raw.depth === undefined && raw.pContinue === undefined)
        return view;
    // a plain model's depth carries nothing to show; a TaH token's must be readable
    const depth = tokenDepth({ ...view, depth: raw.depth as number, pContinue: raw.pContinue as number[] });
    if (depth === undefined)
        return difficultyIsProxy ? view : undefined;
    return { ...view, depth: depth.depth, pContinue: [...depth.pContinue] };
}

/** A message's token list, checked and bounded; [] when it is not a list. */
export function checkedTokenViews(raw: unknown): TokenView[] {
    if (!Array.isArray(raw))
        return [];
    const views: TokenView[] = [];
    for (const item of raw.slice(0, maxTokensPerMessage) as unknown[]) {
        const view = checkedTokenView(item);
        if (view !== undefined)
            views.push(view);
    }
    return views;
}
