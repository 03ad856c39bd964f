/**
 * The extension host never loads node-llama-cpp: it is an ES module graph with top-level await, which VS Code's
 * require() of the bundled extension refuses (activation fails). Only the engine process loads it. The test walks the
 * static imports from src/extension.ts; the broken variant (an import of node-llama-cpp somewhere in that graph,
 * as the Models view once had for GGUF headers) is what it finds.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

const src = path.resolve(import.meta.dirname, "..", "..", "src");
const importPattern = /^\s*(?:import|export)\s(?!type\b)[^;]*?from\s+"([^"]+)"/gm;

function reachablePackages(entry: string): Map<string, string> {
    const seen = new Set<string>();
    const packages = new Map<string, string>();
    const queue = [entry];
    while (queue.length > 0) {
        const file = queue.pop()!;
        if (seen.has(file))
            continue;
        seen.add(file);
        for (const match of fs.readFileSync(file, "utf8").matchAll(importPattern)) {
            const specifier = match[1];
            if (specifier.startsWith("."))
                queue.push(path.resolve(path.dirname(file), specifier.replace(/\.js$/, ".ts")));
            else if (!packages.has(specifier))
                packages.set(specifier, path.relative(src, file));
        }
    }
    return packages;
}

test("nothing the extension host imports reaches node-llama-cpp", () => {
    const packages = reachablePackages(path.join(src, "extension.ts"));
    assert.ok(packages.has("vscode"), "the walk follows the extension's imports");
    assert.equal(packages.get("node-llama-cpp"), undefined, `imported by ${packages.get("node-llama-cpp")}`);
});
