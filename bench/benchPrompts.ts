import { readFileSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../src/engine/native/buildIdentity.js";

/** Real source code for prompts: this repository's own files, so every run reads the same text. */
export function sourceText(): string {
    const root = packageRoot();
    return ["src/completion/postProcess.ts", "src/engine/evaluator/TahSequence.ts", "src/difficulty/DifficultyStore.ts"]
        .map((file) => readFileSync(path.join(root, file), "utf8")).join("\n");
}

/** The first `count` tokens of the source text (repeated if it is short), as a tokenizer sees it. */
export function promptTokens(tokenize: (text: string) => number[], count: number): number[] {
    const tokens: number[] = [];
    const text = sourceText();
    while (tokens.length < count)
        tokens.push(...tokenize(text));
    return tokens.slice(0, count);
}
