// Keystroke → visible ghost text in the real workbench: each keydown and every moment ghost text appears or changes in
// the editor are timed in the page (a MutationObserver), so what is measured is what a person sees, VS Code's own
// scheduling included.
import type { Page } from "playwright-core";

export interface GhostLatency {
    keystrokes: number;
    /** For each keystroke followed by ghost text before the next one, the time to it (ms, sorted). */
    latenciesMs: number[];
    p50Ms: number | undefined;
    p95Ms: number | undefined;
}

/** Types `text` at the cursor at a person's rhythm and measures the time from each keystroke to visible ghost text. */
export async function measureGhostLatency(page: Page, text: string, rhythmMs = 180, settleMs = 2000): Promise<GhostLatency> {
    await page.evaluate(() => {
        const marks = { keys: [] as number[], ghosts: [] as number[] };
        (window as unknown as { tahMarks: typeof marks }).tahMarks = marks;
        document.addEventListener("keydown", () => marks.keys.push(performance.now()), true);
        // a suggestion shows when ghost text appears or its text changes: one still on screen from before the key
        // (VS Code removes it a moment after the edit) is not the key's
        let shown: string | null = null;
        new MutationObserver(() => {
            const ghost = document.querySelector(".editor-instance [class*='ghost-text']");
            const text = ghost === null ? null : ghost.textContent;
            if (text !== null && text !== shown)
                marks.ghosts.push(performance.now());
            shown = text;
        }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    for (const character of text) {
        await page.keyboard.type(character);
        await page.waitForTimeout(rhythmMs);
    }
    await page.waitForTimeout(settleMs);
    const marks = await page.evaluate(() => (window as unknown as { tahMarks: { keys: number[]; ghosts: number[] } }).tahMarks);
    const latenciesMs = marks.keys.flatMap((key, i) => {
        const next = marks.keys[i + 1] ?? Number.POSITIVE_INFINITY;
        const shown = marks.ghosts.find((time) => time >= key && time < next);
        return shown === undefined ? [] : [shown - key];
    }).sort((a, b) => a - b);
    const at = (p: number): number | undefined => latenciesMs[Math.min(latenciesMs.length - 1, Math.ceil(p * latenciesMs.length) - 1)];
    return { keystrokes: marks.keys.length, latenciesMs, p50Ms: at(0.5), p95Ms: at(0.95) };
}
