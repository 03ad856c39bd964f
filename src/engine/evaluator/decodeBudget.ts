/**
 * Whether another decode step fits a time budget: the steps so far predict the next one (their mean time), so the
 * budget bounds the decode instead of being overrun by the step that starts just before it runs out.
 */
export function nextStepFits(elapsedMs: number, stepsDone: number, budgetMs: number): boolean {
    const expectedMs = stepsDone > 0 ? elapsedMs / stepsDone : 0;
    return elapsedMs + expectedMs <= budgetMs;
}
