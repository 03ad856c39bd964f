// How deep a token went and the decider's probability at each depth, read defensively from a token view for every
// place that shows it (hover, heatmap, the chat's Tokens view, the completion preview). A token view may come from a
// remote engine or a stale webview message, so a value that is not what the protocol says reads as "no depth known"
// rather than being shown; engines that predate the fields give TaH v1's depth 0 or 1 from `iterated`.
import type { TokenView } from "../engine/protocol/engineProtocol.js";
import { percent } from "../ui/percent.js";

/** Twice upstream's deepest recipe (8 depths): a longer record is not a real model's, and is not rendered. */
export const maxDepths = 16;

export interface TokenDepth {
    /** The deepest depth the token ran, 0-based. */
    readonly depth: number;
    /** The decider's probability at each depth it ran at (none after the last depth), each in [0, 1]. */
    readonly pContinue: readonly number[];
}

// NaN, strings and out-of-range numbers all fail this
const isProbability = (value: unknown): value is number => typeof value === "number" && value >= 0 && value <= 1;

/** The token's depth and decider probabilities; undefined for a plain model's token or a malformed record. */
export function tokenDepth(view: TokenView): TokenDepth | undefined {
    if (view.difficultyIsProxy !== false)
        return undefined;
    // read as unknown: the fields are checked, not trusted
    const depth: unknown = view.depth;
    const pContinue: unknown = view.pContinue;
    if (depth === undefined && pContinue === undefined)
        return { depth: view.iterated === true ? 1 : 0, pContinue: isProbability(view.difficulty) ? [view.difficulty] : [] };
    if (typeof depth !== "number" || !Number.isInteger(depth) || depth < 0 || depth >= maxDepths)
        return undefined;
    if (!Array.isArray(pContinue) || pContinue.length > depth + 1 || !pContinue.every(isProbability))
        return undefined;
    return { depth, pContinue: [...pContinue] };
}

/** One line for a tooltip: "depth 2 (ran depths 0–2) · decider: d0 80% → d1 60%". */
export function depthLine(depth: TokenDepth): string {
    const ran = depth.depth === 0 ? "depth 0 (first pass only)" : `depth ${depth.depth} (ran depths 0–${depth.depth})`;
    return depth.pContinue.length === 0 ? ran : `${ran} · decider: ${depth.pContinue.map((p, d) => `d${d} ${percent(p)}`).join(" → ")}`;
}

/** The heatmap's depth marks: none for depth 0, then depth 1, depth 2 and depth 3 or more. */
export const depthMarks = 3;

/** The heatmap's depth mark of a token: -1 for none, else 0 … depthMarks − 1. */
export function depthMark(view: TokenView): number {
    const depth = tokenDepth(view)?.depth ?? 0;
    return Math.min(depth, depthMarks) - 1;
}
