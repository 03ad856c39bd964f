// UI test: drives the real workbench in headless chromium against code-server with the VSIX installed, checks what
// a person would see, and saves screenshots to test-output/screenshots/ui-*.png. Writes test-output/ui-results.json.
import fs from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import {
    type Check, type CheckResult, launchBrowser, newWorkbenchPage, removeScreenshots, runChecks, runPalette, screenshot, tahStatus, workbenchUrl,
    writeResults,
} from "./browser.js";
import { type CodeServer, startCodeServer, testOutput } from "./codeServer.js";
import { measureGhostLatency } from "./ghostLatency.js";
import { type ServeProcess, startServeProcess } from "./serveProcess.js";

function chatWebview(page: Page): ReturnType<Page["frameLocator"]> {
    return page.frameLocator("iframe.webview").frameLocator("#active-frame");
}

/** Settings of the UI run; the model path leads nowhere, so the first checks see a model that failed to load. */
export const uiSettings = {
    "tah.modelPath": "/nonexistent/tah-model",
    "tah.gpu": "cpu", "tah.threads": 1, "tah.contextSize": 4096,
    "tah.inlineCompletion.maxTokens": 8, "tah.inlineCompletion.maxMs": 5000,
    // the whole suggestion: the ghost-text checks compare it with the reference's continuation of a random model
    "tah.inlineCompletion.hardTokenPolicy": "off",
    // long enough that Stop arrives while the scripted answer still streams
    "tah.chat.maxTokens": 3500
};

/** Opens a workspace file through Quick Open (the side bar may be showing another view). */
async function openFile(page: Page, name: string): Promise<void> {
    const tab = page.locator(".tabs-container .tab", { hasText: name });
    if (await tab.count() > 0) {
        await tab.first().click();
        await page.locator(".tabs-container .tab.active", { hasText: name }).waitFor();
        return;
    }
    // close a hover or widget that would take the key
    await page.keyboard.press("Escape");
    await page.keyboard.press("Control+P");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible" });
    await input.fill(name);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: name }).first().waitFor();
    await input.press("Enter");
    await page.locator(".tabs-container .tab.active", { hasText: name }).waitFor();
}

/** `TaH: Select Model…` through code-server's simple file dialog: type the manifest's path and accept it. */
async function selectModel(page: Page, folder: string): Promise<void> {
    await runPalette(page, "TaH: Select Model…");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible" });
    // the dialog fills in its start folder and lists it a moment after it opens: typing earlier gets overwritten
    await page.locator(".quick-input-list .monaco-list-row", { hasText: ".." }).waitFor();
    await page.waitForTimeout(500);
    await input.fill(path.join(folder, "tah-model.json"));
    // it lists the typed folder, with the manifest matching what was typed
    await page.locator(".quick-input-list .monaco-list-row", { hasText: "tah-model.json" }).waitFor();
    await input.press("Enter");
}

/** The remote engine of the last check: a `tah serve` in another process, stopped by main. */
interface Remote {
    serve?: ServeProcess;
}

const remoteKey = "ui-remote-key";

/**
 * Adds settings to code-server's user and machine settings files, as the settings editor writes them; the window
 * applies a changed file (a remote window reads its window settings from the machine file too).
 */
function addSettings(runDir: string, settings: Record<string, unknown>): void {
    for (const scope of ["User", "Machine"]) {
        const file = path.join(runDir, "user-data", scope, "settings.json");
        const current = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
        fs.writeFileSync(file, JSON.stringify({ ...current, ...settings }, null, 4));
    }
}

/** Requests the remote server answered, by route (its /metrics). */
async function servedByRoute(url: string): Promise<Record<string, number>> {
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${remoteKey}` } })).text();
    const counts: Record<string, number> = {};
    for (const match of text.matchAll(/^tah_http_requests_total\{route="([^"]+)",status="200"\} (\d+)/gm))
        counts[match[1]] = (counts[match[1]] ?? 0) + Number(match[2]);
    return counts;
}

/** Ghost text at the end of area.js's `return radius` line, accepted with Tab; returns the suggestion. */
async function acceptGhostText(page: Page, shot: string): Promise<string> {
    await openFile(page, "area.js");
    const line = page.locator(".editor-instance .monaco-editor .view-line", { hasText: "return radius" });
    await line.waitFor();
    await line.click();
    await page.keyboard.press("End");
    const ghost = page.locator(".editor-instance [class*='ghost-text']").first();
    for (let attempt = 0; attempt < 10 && !(await ghost.isVisible()); attempt++) {
        await runPalette(page, "Trigger Inline Suggestion");
        await ghost.waitFor({ timeout: 10_000 }).catch(() => undefined);
    }
    await ghost.waitFor({ timeout: 5000 });
    const suggested = (await ghost.innerText()).replace(/\u00a0/g, " ").trim();
    await screenshot(page, shot);
    await page.keyboard.press("Tab");
    // compared without white space: Monaco renders spaces as no-break spaces, and the ghost text's leading space (if
    // the suggestion has one) is not in its trimmed text
    const accepted = page.locator(".editor-instance .monaco-editor .view-line").filter({ hasText: /return.radius/ }).first();
    await page.waitForFunction(
        ([element, expected]) => (element as HTMLElement).innerText.replace(/\s/g, "").includes(expected as string),
        [await accepted.elementHandle(), `returnradius${suggested.replace(/\s/g, "").slice(0, 3)}`] as const
    );
    return suggested;
}

/** Hovers right after "radius" on the edited line: the accepted tokens' difficulty. */
async function hoverAccepted(page: Page, shot: string): Promise<void> {
    // the speculative next suggestion shows right after Tab, and while ghost text is on the line VS Code keeps other
    // hovers hidden: dismiss it first
    await page.keyboard.press("Escape");
    // Monaco renders the line again when the next suggestion shows after Tab: look again until the span holds still
    const radius = page.locator(".editor-instance .monaco-editor .view-lines span", { hasText: /^radius$/ }).filter({ visible: true }).last();
    let radiusBox = null;
    for (let attempt = 0; attempt < 20 && radiusBox === null; attempt++) {
        await radius.waitFor({ timeout: 5000 }).catch(() => undefined);
        radiusBox = await radius.boundingBox();
        if (radiusBox === null)
            await page.waitForTimeout(250);
    }
    if (radiusBox === null) throw new Error("no 'radius' on the edited line");
    await page.mouse.move(radiusBox.x + radiusBox.width + 8, radiusBox.y + radiusBox.height / 2);
    const hover = page.locator(".monaco-hover", { hasText: "TaH" });
    await hover.waitFor({ timeout: 20_000 });
    await hover.getByText("Written by the copilot").waitFor();
    await page.waitForTimeout(600);
    await screenshot(page, shot);
    await page.mouse.move(5, 5);
}

function checks(workspaceUrl: string, server: Pick<CodeServer, "model" | "scriptedModel" | "runDir"> | undefined, remote: Remote = {}): Check[] {
    return [
        ["the workbench loads", async (page) => {
            await page.goto(workspaceUrl);
            await page.waitForSelector(".monaco-workbench", { timeout: 120_000 });
        }],
        ["the extension activates and shows its status-bar item", async (page) => {
            // Activation comes seconds after the page (onStartupFinished, slower under load).
            const item = page.locator(".statusbar-item", { hasText: "TaH:" });
            await item.waitFor({ state: "visible", timeout: 120_000 });
            const text = await item.innerText();
            // the model path is a nonexistent one: starting, idle until first use, loading, or already failed
            if (!/TaH: (not loaded|loading|model not loaded)/.test(text)) throw new Error(`unexpected status-bar text: ${text}`);
            await page.locator(".statusbar-item", { hasText: "TaH: model not loaded" }).waitFor({ timeout: 60_000 });
            await screenshot(page, "ui-01-activated");
        }],
        ["a file opens from the explorer", async (page) => {
            await page.locator(".explorer-folders-view .monaco-list-row", { hasText: "sample.ts" }).click();
            await page.locator(".editor-instance .monaco-editor .view-line", { hasText: "fibonacci" }).first().waitFor();
            await screenshot(page, "ui-02-file-open");
        }],
        ["`TaH: Show Logs` from the command palette shows the log", async (page) => {
            await page.locator(".editor-instance .monaco-editor .view-line").last().click();
            await runPalette(page, "TaH: Show Logs");
            // Monaco renders spaces as no-break spaces, so match single words of the activation line.
            await page.locator(".panel .monaco-editor .view-line", { hasText: "activated" }).first().waitFor();
            await page.locator(".panel", { hasText: "TaH Copilot" }).first().waitFor();
            await screenshot(page, "ui-03-show-logs");
        }],
        ["the status-bar item opens the TaH menu", async (page) => {
            await page.locator(".statusbar-item", { hasText: "TaH:" }).click();
            await page.locator(".quick-input-list .monaco-list-row", { hasText: "Open Chat" }).waitFor();
            await screenshot(page, "ui-04-menu");
        }],
        ["the menu opens the chat view, whose webview talks to the extension", async (page) => {
            await page.locator(".quick-input-list .monaco-list-row", { hasText: "Open Chat" }).click();
            const webview = page.frameLocator("iframe.webview").frameLocator("#active-frame");
            await webview.getByRole("heading", { name: "TaH Copilot" }).waitFor();
            // data-connected is set by the webview script on the host's reply: proves the script ran under the CSP.
            await webview.locator('#engine-state[data-connected="false"]').waitFor();
            await screenshot(page, "ui-05-chat-view");
        }],
        ["a question while the model failed to load gets the reason and a way to pick another, and hostile text stays text", async (page) => {
            const webview = page.frameLocator("iframe.webview").frameLocator("#active-frame");
            // the toolkit's text area keeps its <textarea> in an open shadow root, which locators pierce
            await webview.locator("#prompt textarea").fill("Why <img src=x onerror=alert(1)>?");
            await webview.locator("#prompt textarea").press("Enter");
            const error = webview.locator(".message.assistant .error");
            // the reason of the failed load, from the error table, not a generic "no model"
            await error.getByText(/^The model could not be read: no model at \/nonexistent\/tah-model/).waitFor();
            // found by its role and accessible name, as a screen reader finds it
            await error.getByRole("button", { name: "Pick a model…" }).waitFor();
            await webview.locator(".message.user .user-text", { hasText: "Why <img src=x onerror=alert(1)>?" }).waitFor();
            const images = await webview.locator("#messages img").count();
            if (images !== 0) throw new Error(`the question rendered ${images} <img> element(s)`);
            await screenshot(page, "ui-06-chat-no-model");
        }],
        ["a model loads with progress and the status bar names it", async (page) => {
            await selectModel(page, server?.model ?? "");
            await tahStatus(page).filter({ hasText: "tiny-fixture" }).waitFor({ timeout: 120_000 });
            await screenshot(page, "ui-07-model-loaded");
        }],
        ["ghost text appears at the cursor and Tab accepts it", async (page) => {
            await acceptGhostText(page, "ui-08-ghost-text");
            await screenshot(page, "ui-09-ghost-text-accepted");
        }],
        ["the hover over accepted text shows how hard each token was", async (page) => {
            await hoverAccepted(page, "ui-10-hover");
        }],
        ["typing a line: the time from each keystroke to visible ghost text is reported (not asserted)", async (page) => {
            await openFile(page, "area.js");
            await page.locator(".editor-instance .monaco-editor .view-line").filter({ hasText: /return.radius/ }).first().click();
            await page.keyboard.press("End");
            await page.keyboard.press("Enter");
            // a person's rhythm: about 180 ms between keys
            const measured = await measureGhostLatency(page, "const d = radius * 2");
            const latencies = measured.latenciesMs;
            const report = { model: "tiny-fixture", keystrokes: measured.keystrokes, withGhostText: latencies.length, p50Ms: measured.p50Ms, p95Ms: measured.p95Ms, latenciesMs: latencies };
            fs.writeFileSync(path.join(testOutput, "ui-ghost-latency.json"), JSON.stringify(report, null, 4) + "\n");
            console.log(`    keystroke → visible ghost text: ${latencies.length} of ${measured.keystrokes} keystrokes, p50 ${measured.p50Ms?.toFixed(0)} ms, p95 ${measured.p95Ms?.toFixed(0)} ms`);
            await page.keyboard.press("Escape");
            // the typed line would be the last "radius" on screen for the later checks' hovers
            await runPalette(page, "File: Revert File");
            if (latencies.length === 0) throw new Error(`no ghost text appeared after any of ${measured.keystrokes} keystrokes`);
        }],
        ["`TaH: Show Difficulty of This File` paints the heatmap", async (page) => {
            await openFile(page, "sample.ts");
            await page.locator(".editor-instance .monaco-editor .view-line", { hasText: "fibonacci" }).first().waitFor();
            await runPalette(page, "TaH: Show Difficulty of This File/Selection");
            await page.locator(".statusbar-item", { hasText: /tokens hard/ }).waitFor({ timeout: 60_000 });
            await page.waitForTimeout(500);
            await screenshot(page, "ui-11-heatmap");
        }],
        ["the completion preview shows the suggestion's tokens by difficulty", async (page) => {
            await runPalette(page, "TaH: Show Completion Preview");
            await openFile(page, "area.js");
            const line = page.locator(".editor-instance .monaco-editor .view-line").filter({ hasText: /return.radius/ }).first();
            await line.click();
            await page.keyboard.press("End");
            const preview = page.frameLocator("iframe.webview >> nth=-1").frameLocator("#active-frame");
            for (let attempt = 0; attempt < 10; attempt++) {
                await runPalette(page, "Trigger Inline Suggestion");
                if (await preview.locator("#suggestion span").first().isVisible().catch(() => false)) break;
                await page.waitForTimeout(2000);
            }
            await preview.locator("#suggestion span").first().waitFor({ timeout: 10_000 });
            await page.keyboard.press("Escape");
            await screenshot(page, "ui-12-completion-preview");
        }],
        ["a chat answer streams in, model output stays text, and Stop stops it", async (page) => {
            const dialogs: string[] = [];
            page.on("dialog", (dialog) => {
                dialogs.push(dialog.message());
                void dialog.dismiss();
            });
            await selectModel(page, server?.scriptedModel ?? "");
            await tahStatus(page).filter({ hasText: "tiny-scripted" }).waitFor({ timeout: 120_000 });
            // the preview is a webview too: close it, so the chat's is the only one
            await runPalette(page, "View: Close All Editors");
            const dontSave = page.getByRole("button", { name: "Don't Save" });
            await dontSave.waitFor({ timeout: 5000 }).then(() => dontSave.click(), () => undefined);
            await page.locator("iframe.webview").nth(1).waitFor({ state: "detached" });
            await runPalette(page, "TaH: Open Chat");
            const webview = chatWebview(page);
            await webview.locator("#prompt textarea").fill("Say something.");
            await webview.locator("#prompt textarea").press("Enter");
            const answer = webview.locator(".message.assistant .answer").last();
            await answer.getByText("<svg/onload=alert(1)>", { exact: false }).first().waitFor({ timeout: 60_000 });
            await screenshot(page, "ui-13-chat-streaming");
            await webview.locator("#stop").click();
            await webview.locator("#stop").waitFor({ state: "hidden", timeout: 20_000 });
            const stopped = (await answer.innerText()).length;
            await page.waitForTimeout(1500);
            if ((await answer.innerText()).length !== stopped) throw new Error("the answer kept growing after Stop");
            const svgs = await webview.locator("#messages .answer svg").count();
            if (svgs !== 0) throw new Error(`model output rendered ${svgs} <svg> element(s)`);
            if (dialogs.length > 0) throw new Error(`model output opened a dialog: ${dialogs.join(", ")}`);
            await screenshot(page, "ui-14-chat-stopped");
            await webview.locator(".message.assistant .token-switch").last().click();
            await webview.locator(".message.assistant .answer.as-tokens span").first().waitFor();
            await screenshot(page, "ui-15-chat-tokens");
        }],
        ["remote mode: with tah.engine.url and its token the status bar names the remote tah serve", async (page) => {
            remote.serve = await startServeProcess(server?.model ?? "", remoteKey);
            await runPalette(page, "TaH: Set Remote Engine Token…");
            const input = page.locator(".quick-input-widget input");
            await input.waitFor({ state: "visible" });
            await input.fill(remoteKey);
            await input.press("Enter");
            addSettings(server?.runDir ?? "", { "tah.engine.url": remote.serve.url });
            const host = new URL(remote.serve.url).host;
            // the remote serves the fixture model; the local one was the scripted model
            await tahStatus(page).filter({ hasText: "tiny-fixture" }).filter({ hasText: host }).waitFor({ timeout: 60_000 });
            await screenshot(page, "ui-16-remote-status");
        }],
        ["remote mode: ghost text, its hover's difficulty and a chat answer come from the remote engine", async (page) => {
            const url = remote.serve?.url ?? "";
            await runPalette(page, "View: Close All Editors");
            const dontSave = page.getByRole("button", { name: "Don't Save" });
            await dontSave.waitFor({ timeout: 5000 }).then(() => dontSave.click(), () => undefined);
            await acceptGhostText(page, "ui-17-remote-ghost-text");
            await hoverAccepted(page, "ui-18-remote-hover");
            await runPalette(page, "TaH: Open Chat");
            const webview = chatWebview(page);
            await webview.locator("#prompt textarea").fill("Say hello.");
            await webview.locator("#prompt textarea").press("Enter");
            const answer = webview.locator(".message.assistant .answer").last();
            await page.waitForFunction((element) => ((element as HTMLElement | null)?.innerText ?? "").trim().length > 0, await answer.elementHandle(), { timeout: 120_000 });
            await webview.locator("#stop").waitFor({ state: "hidden", timeout: 120_000 });
            await screenshot(page, "ui-19-remote-chat");
            const served = await servedByRoute(url);
            for (const route of ["/tah/engine/complete", "/tah/engine/chat", "/tah/engine/status"])
                if ((served[route] ?? 0) === 0) throw new Error(`the remote server answered no ${route}: ${JSON.stringify(served)}`);
        }],
    ];
}

async function main(): Promise<number> {
    const started = Date.now();
    removeScreenshots("ui");
    const server = await startCodeServer({ name: "ui", settings: uiSettings });
    let results: CheckResult[];
    const remote: Remote = {};
    const browser = await launchBrowser(server.runDir);
    try {
        results = await runChecks(await newWorkbenchPage(browser), checks(workbenchUrl(server.url, server.workspace), server, remote), "ui");
    } finally {
        await browser.close();
        await remote.serve?.stop();
        await server.stop();
    }
    const total = checks("", undefined).length;
    const { passed, failed } = writeResults(path.join(testOutput, "ui-results.json"), results);
    const notRun = total - results.length;
    console.log(`UI: ${passed} passed, ${failed} failed${notRun ? ` (${notRun} not run)` : ""} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return failed === 0 && notRun === 0 ? 0 : 1;
}

process.exitCode = await main();
