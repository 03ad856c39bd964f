// The model the UI and integration tests load: a tiny random TaH model (test/support/tinyTah.ts), picked by seed so
// that its greedy fill-in-the-middle continuation of the fixture's prompt starts with visible code text rather than
// a special token (random weights could otherwise end the suggestion at once), and not with more of the identifier
// before the cursor. Checked with the reference.
import { runReference } from "../reference/runReference.js";
import { createTinyTah, writeTinyTahFolder } from "../support/tinyTah.js";
import { detokenize, tinyVocabulary, tokenize } from "../support/tinyTokenizer.js";

/** The text around the cursor that the tests type into (the cursor sits between prefix and suffix). */
export const fixturePrompt = { prefix: "function area(radius) {\n    return radius", suffix: "\n}\n" } as const;

/**
 * The fixture's prompt as the engine lays out PSM (the only order the tiny models know): the cursor's line goes after
 * <fim_middle>, the way llama.cpp's /infill places its prompt.
 */
export function fixtureFimPrompt(): number[] {
    const { special } = tinyVocabulary;
    const lineStart = fixturePrompt.prefix.lastIndexOf("\n") + 1;
    return [special["<|fim_prefix|>"], ...tokenize(fixturePrompt.prefix.slice(0, lineStart)), special["<|fim_suffix|>"], ...tokenize(fixturePrompt.suffix),
        special["<|fim_middle|>"], ...tokenize(fixturePrompt.prefix.slice(lineStart))];
}

function visibleContinuation(seed: number): boolean {
    const tiny = createTinyTah({ seed });
    const prompt = fixtureFimPrompt();
    const first = runReference(tiny.model, { promptTokens: prompt, steps: 3, threshold: tiny.model.threshold }).generatedTokens.slice(0, 3);
    const text = detokenize(first);
    // and it does not go on with the identifier before the cursor: the UI test hovers over its own span
    return first.every((token) => tinyVocabulary.tokenTypes[token] === 1) && /^[ -~]+$/.test(text) && /[A-Za-z0-9]/.test(text) && /^[^A-Za-z0-9_$]/.test(text);
}

/** Writes the fixture model folder and returns its path. */
export async function writeFixtureModel(folder: string): Promise<string> {
    for (let seed = 1; seed <= 200; seed++) {
        if (visibleContinuation(seed)) {
            await writeTinyTahFolder(folder, createTinyTah({ seed, name: "tiny-fixture" }));
            return folder;
        }
    }
    throw new Error("no seed in 1..200 gives a visible continuation of the fixture prompt");
}
