// Keystroke → visible ghost text in code-server for a model of your choice (the UI test measures it on its tiny fixture
// model): `npm run bench:ui -- --model DIR [--threshold T] [--threads N] [--rhythm-ms MS]`. It opens a copy of real source code (the
// benchmark's), lets the first suggestion prime the file's KV, types a line at a person's rhythm with the extension's
// default completion settings and prints p50 / p95. A measurement, not a test: nothing is asserted but that ghost text
// showed. Needs `npm run e2e:setup` and `npm run package`; writes test-output/ui-latency.json.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { sourceText } from "../../bench/benchPrompts.js";
import { launchBrowser, newWorkbenchPage, runChecks, runPalette, tahStatus, workbenchUrl } from "./browser.js";
import { startCodeServer, testOutput } from "./codeServer.js";
import { type GhostLatency, measureGhostLatency } from "./ghostLatency.js";

const { values } = parseArgs({
    options: { model: { type: "string" }, threshold: { type: "string" }, threads: { type: "string", default: "2" }, "rhythm-ms": { type: "string", default: "180" } }
});
if (values.model === undefined)
    throw new Error("usage: npm run bench:ui -- --model DIR [--threshold T] [--threads N] [--rhythm-ms MS]");
// a keystroke's suggestion counts if it shows before the next keystroke: a slow model needs a slower typist to show any
const rhythmMs = Number(values["rhythm-ms"]);
const model = path.resolve(values.model);
/** What the status bar names the model by: its manifest's name, else its file or folder name. */
const manifest = path.join(model, "tah-model.json");
const modelName = fs.existsSync(manifest) ? (JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: string }).name ?? path.basename(model) : path.basename(model, ".gguf");
const typed = "const seen = new Set(tokens);";

async function main(): Promise<number> {
    const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "tah-ui-latency-workspace-"));
    const source = sourceText();
    // the cursor a third of the way in: a full window of lines before it and after it
    const cursorLine = Math.floor(source.split("\n").length / 3);
    fs.writeFileSync(path.join(workspace, "replay.ts"), source);
    const server = await startCodeServer({
        name: "ui-latency", workspace, fixtureModels: false,
        settings: {
            "tah.chat.model": model, "tah.gpu": "cpu", "tah.threads": Number(values.threads),
            ...(values.threshold !== undefined ? { "tah.decider.threshold": Number(values.threshold) } : {})
        }
    });
    let measured: GhostLatency | undefined;
    const browser = await launchBrowser(server.runDir);
    try {
        const results = await runChecks(await newWorkbenchPage(browser), [
            ["the workbench opens and the model loads", async (page) => {
                await page.goto(workbenchUrl(server.url, server.workspace));
                await tahStatus(page).filter({ hasText: modelName }).waitFor({ timeout: 300_000 });
            }],
            ["the file opens and its first suggestion primes its KV", async (page) => {
                await page.keyboard.press("Control+P");
                await page.locator(".quick-input-widget input").fill("replay.ts");
                await page.locator(".quick-input-list .monaco-list-row", { hasText: "replay.ts" }).first().waitFor();
                await page.keyboard.press("Enter");
                await page.locator(".tabs-container .tab.active", { hasText: "replay.ts" }).waitFor();
                // Quick Open's ":line" goes to the line (the browser keeps Ctrl+G)
                await page.keyboard.press("Control+P");
                await page.locator(".quick-input-widget input").fill(`:${cursorLine}`);
                await page.keyboard.press("Enter");
                await page.locator(".statusbar-item", { hasText: `Ln ${cursorLine},` }).waitFor();
                await page.keyboard.press("End");
                await page.keyboard.press("Enter");
                await runPalette(page, "Trigger Inline Suggestion");
                await page.locator(".editor-instance [class*='ghost-text']").first().waitFor({ timeout: 300_000 });
                await page.keyboard.press("Escape");
            }],
            ["typing a line: keystroke → visible ghost text", async (page) => {
                measured = await measureGhostLatency(page, typed.trimStart(), rhythmMs);
                if (measured.latenciesMs.length === 0)
                    throw new Error(`no ghost text appeared after any of ${measured.keystrokes} keystrokes`);
            }]
        ], "ui-latency");
        if (measured !== undefined) {
            const report = { model, threads: Number(values.threads), threshold: values.threshold ?? null, rhythmMs, ...measured };
            fs.mkdirSync(testOutput, { recursive: true });
            fs.writeFileSync(path.join(testOutput, "ui-latency.json"), JSON.stringify(report, null, 4) + "\n");
            console.log(`${modelName}: keystroke → visible ghost text after ${measured.latenciesMs.length} of ${measured.keystrokes} keystrokes, p50 ${measured.p50Ms?.toFixed(0)} ms, p95 ${measured.p95Ms?.toFixed(0)} ms`);
        }
        return results.every((result) => result.passed) && results.length === 3 ? 0 : 1;
    } finally {
        await browser.close();
        await server.stop();
        fs.rmSync(workspace, { recursive: true, force: true });
    }
}

process.exitCode = await main();
