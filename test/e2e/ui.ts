// UI test: drives the real workbench in headless chromium against code-server with the VSIX installed, checks what
// a person would see, and saves screenshots to test-output/screenshots/ui-*.png. Writes test-output/ui-results.json.
import fs from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import {
    type CheckResult, launchBrowser, newWorkbenchPage, removeScreenshots, screenshot, workbenchUrl, writeResults,
} from "./browser.js";
import { startCodeServer, testOutput } from "./codeServer.js";

type Check = readonly [name: string, run: (page: Page) => Promise<void>];

async function runPalette(page: Page, title: string): Promise<void> {
    await page.keyboard.press("F1");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible" });
    await input.fill(`>${title}`);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor();
    await page.keyboard.press("Enter");
}

function checks(workspaceUrl: string): Check[] {
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
            if (!/TaH: no model/.test(text)) throw new Error(`unexpected status-bar text: ${text}`);
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
        ["a question without a model gets the error and a way to pick one, and hostile text stays text", async (page) => {
            const webview = page.frameLocator("iframe.webview").frameLocator("#active-frame");
            // the toolkit's text area keeps its <textarea> in an open shadow root, which locators pierce
            await webview.locator("#prompt textarea").fill("Why <img src=x onerror=alert(1)>?");
            await webview.locator("#prompt textarea").press("Enter");
            const error = webview.locator(".message.assistant .error");
            await error.getByText("No model is loaded.").waitFor();
            await error.locator("vscode-button", { hasText: "Pick a model" }).waitFor();
            await webview.locator(".message.user .user-text", { hasText: "Why <img src=x onerror=alert(1)>?" }).waitFor();
            const images = await webview.locator("#messages img").count();
            if (images !== 0) throw new Error(`the question rendered ${images} <img> element(s)`);
            await screenshot(page, "ui-06-chat-no-model");
        }],
    ];
}

async function main(): Promise<number> {
    const started = Date.now();
    removeScreenshots("ui");
    const server = await startCodeServer({ name: "ui" });
    const results: CheckResult[] = [];
    const browser = await launchBrowser(server.runDir);
    try {
        const page = await newWorkbenchPage(browser);
        const consoleLines: string[] = [];
        page.on("console", (message) => consoleLines.push(`[${message.type()}] ${message.text()}`));
        page.on("pageerror", (error) => consoleLines.push(`[pageerror] ${error.message}`));
        for (const [name, run] of checks(workbenchUrl(server.url, server.workspace))) {
            const checkStarted = Date.now();
            try {
                await run(page);
                results.push({ name, passed: true, durationMs: Date.now() - checkStarted });
                console.log(`  ✓ ${name} (${((Date.now() - checkStarted) / 1000).toFixed(1)} s)`);
            } catch (error) {
                results.push({ name, passed: false, durationMs: Date.now() - checkStarted, error: String(error) });
                console.log(`  ✗ ${name}\n    ${String(error).split("\n").join("\n    ")}`);
                await screenshot(page, "ui-failure").catch(() => undefined);
                break; // later checks build on this one
            }
        }
        fs.mkdirSync(path.join(testOutput, "logs"), { recursive: true });
        fs.writeFileSync(path.join(testOutput, "logs", "ui-browser-console.log"), consoleLines.join("\n") + "\n");
    } finally {
        await browser.close();
        await server.stop();
    }
    const total = checks("").length;
    const { passed, failed } = writeResults(path.join(testOutput, "ui-results.json"), results);
    const notRun = total - results.length;
    console.log(`UI: ${passed} passed, ${failed} failed${notRun ? ` (${notRun} not run)` : ""} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return failed === 0 && notRun === 0 ? 0 : 1;
}

process.exitCode = await main();
