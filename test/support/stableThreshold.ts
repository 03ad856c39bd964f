/** Thresholds for engine-versus-reference tests that no float32 rounding can flip. */
import type { ReferenceResult } from "../reference/runReference.js";

/**
 * A threshold that makes about `share` of the positions iterate, in the middle of a gap between P(hard) values
 * wider than 2·margin, so that small numeric differences cannot flip a decision.
 */
export function stableThreshold(reference: ReferenceResult, share: number, margin: number): number {
    const values = reference.records.map((record) => record.pHard).sort((a, b) => a - b);
    const target = values[Math.floor(values.length * (1 - share))];
    const gaps = values.slice(1).map((value, i) => ({ low: values[i], high: value }))
        .filter((gap) => gap.high - gap.low > 2 * margin)
        .sort((a, b) => Math.abs((a.low + a.high) / 2 - target) - Math.abs((b.low + b.high) / 2 - target));
    if (gaps.length === 0)
        throw new Error(`no gap wider than ${2 * margin} between P(hard) values`);
    return (gaps[0].low + gaps[0].high) / 2;
}
