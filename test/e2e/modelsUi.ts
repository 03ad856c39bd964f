// UI test of getting models: drives the real workbench (code-server, headless chromium) as a new user would. TaH: Get
// a Model… → the curated TaH entry, served by a fake hub on loopback (tah.hub.endpoint points there) → the download's
// progress notification → conversion → the model in the Models view → Use for Chat → the chat answers; then a plain
// GGUF code model from the list for ghost text, cancelled mid-download and resumed from the Models view → the ghost
// text is that model's continuation while chat still answers from the first. Every model is generated here (test/support); nothing is downloaded from the internet. Screenshots go
// to test-output/screenshots/models-*.png, results to test-output/models-ui-results.json.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { runReference } from "../reference/runReference.js";
import { repoFilesFromFolder, startFakeHub, type FakeHub } from "../support/fakeHub.js";
import { writeSyntheticCheckpoint } from "../support/syntheticCheckpoint.js";
import { createTinyTah, writeTinyBackbone, type TinyTah } from "../support/tinyTah.js";
import { detokenize } from "../support/tinyTokenizer.js";
import {
    type Check, type CheckResult, launchBrowser, newWorkbenchPage, removeScreenshots, runChecks, runPalette, screenshot, tahStatus, workbenchUrl,
    writeResults,
} from "./browser.js";
import { startCodeServer, testOutput } from "./codeServer.js";
import { fixtureFimPrompt } from "./fixtureModel.js";
import { scriptedAnswer, scriptedTinyTah } from "./scriptedModel.js";


const tahRepo = "nics-efc/TaH-plus-1.7B";
const coderRepo = "ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF";
const coderFile = "qwen2.5-coder-0.5b-q8_0.gguf";
const commit = "0123456789abcdef0123456789abcdef01234567";
/** The converted model's name: the converter names it after the checkpoint's folder (`<owner>--<name>`). */
const chatModelName = "nics-efc--TaH-plus-1.7B";
/** Its folder in the models folder: `<name>-<type>`. */
const chatModelFolder = "TaH-plus-1.7B-f32";

/** What a model's backbone alone (no second pass: a plain GGUF) continues the fixture's prompt with, greedily. */
function backboneContinuation(tiny: TinyTah): string {
    return detokenize(runReference(tiny.model, { promptTokens: fixtureFimPrompt(), steps: 3, threshold: 1 }).generatedTokens);
}

/** A code model whose continuation is visible text, and not what the chat model would write there. */
function coderModel(avoid: string): { tiny: TinyTah; continuation: string } {
    for (let seed = 100; seed < 300; seed++) {
        const tiny = createTinyTah({ seed, name: "tiny-coder" });
        const continuation = backboneContinuation(tiny);
        if (/^[ -~]+$/.test(continuation) && /[A-Za-z0-9]{2}/.test(continuation) && continuation.trim().slice(0, 3) !== avoid.trim().slice(0, 3))
            return { tiny, continuation };
    }
    throw new Error("no seed in 100..299 gives a visible continuation that differs from the chat model's");
}

function pickRow(page: Page, text: string | RegExp): ReturnType<Page["locator"]> {
    return page.locator(".quick-input-list .monaco-list-row", { hasText: text }).first();
}

/**
 * A notification, in the notification center: the headless page has no window focus, and the workbench then shows
 * new notifications there (the status bar's bell) instead of as toasts.
 */
async function notification(page: Page, text: string | RegExp, timeout: number): Promise<ReturnType<Page["locator"]>> {
    const item = page.locator(".notifications-center .notification-list-item", { hasText: text }).first();
    if (!(await page.locator(".notifications-center.visible").isVisible()))
        await runPalette(page, "Notifications: Show Notifications");
    try {
        await item.waitFor({ timeout });
    } catch (error) {
        const listed = await page.locator(".notification-list-item").allInnerTexts();
        throw new Error(`${String(error)}\nlisted: ${JSON.stringify(listed)}`, { cause: error });
    }
    return item;
}

/** The Models view's rows, with the TaH side bar open and the view expanded. */
async function modelsView(page: Page): Promise<ReturnType<Page["locator"]>> {
    await runPalette(page, "TaH: Refresh Models");
    const header = page.locator(".pane-header", { hasText: /^Models/ }).first();
    if (!(await header.isVisible())) {
        await page.locator(".activitybar [aria-label^='TaH Copilot']").first().click();
        await header.waitFor();
    }
    if ((await header.getAttribute("aria-expanded")) === "false")
        await header.click();
    return page.locator(".pane", { has: header }).locator(".monaco-list-row");
}

/** Get a Model… → the catalogue row → (a TaH checkpoint: the type) → the download's notification → the role's button. */
async function getModel(page: Page, row: string, type: string | undefined, repo: string, useButton: string, shot: string): Promise<void> {
    await runPalette(page, "TaH: Get a Model…");
    await pickRow(page, row).click();
    if (type !== undefined) {
        // the type picker: this machine's default first, every type with its memory need
        await page.locator(".quick-input-widget", { hasText: "after the download" }).waitFor();
        await page.getByRole("option", { name: new RegExp(`^${type}\\b`) }).first().click();
    }
    const progress = await notification(page, `TaH: downloading ${repo}`, 60_000);
    await progress.getByText(/ of .* files/).waitFor({ timeout: 30_000 });
    await screenshot(page, `${shot}-progress`);
    const ready = await notification(page, "is ready.", 120_000);
    await screenshot(page, `${shot}-ready`);
    await ready.getByRole("button", { name: useButton }).click();
}

async function ask(page: Page, question: string): Promise<string> {
    await runPalette(page, "TaH: Open Chat");
    const webview = page.frameLocator("iframe.webview").frameLocator("#active-frame");
    await webview.locator("#prompt textarea").fill(question);
    await webview.locator("#prompt textarea").press("Enter");
    const answer = webview.locator(".message.assistant .answer").last();
    await answer.getByText(scriptedAnswer, { exact: false }).first().waitFor({ timeout: 120_000 });
    await webview.locator("#stop").waitFor({ state: "hidden", timeout: 60_000 });
    return answer.innerText();
}

async function ghostText(page: Page): Promise<string> {
    await runPalette(page, "View: Close All Editors");
    await page.keyboard.press("Control+P");
    const input = page.locator(".quick-input-widget input");
    await input.fill("area.js");
    await pickRow(page, "area.js").waitFor();
    await input.press("Enter");
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
    return (await ghost.innerText()).replace(/\u00a0/g, " ");
}

function checks(workspaceUrl: string, coderContinuation: string, hub: FakeHub | undefined): Check[] {
    return [
        ["the workbench loads and the extension activates", async (page) => {
            await page.goto(workspaceUrl);
            await page.waitForSelector(".monaco-workbench", { timeout: 120_000 });
            await tahStatus(page).waitFor({ state: "visible", timeout: 120_000 });
        }],
        ["before any download the Models view lists the bundled model serving chat, and offers Get a Model", async (page) => {
            const rows = await modelsView(page);
            await rows.filter({ hasText: "tah-code-default" }).filter({ hasText: "chat, file analysis" }).waitFor();
            // the view's title actions show on hover
            const header = page.locator(".pane-header", { hasText: /^Models/ }).first();
            await header.hover();
            await header.locator(".actions [aria-label^='Get a Model']").first().waitFor();
            await screenshot(page, "models-01-view");
        }],
        ["Get a Model: the TaH entry downloads with progress, converts, and serves chat", async (page) => {
            await getModel(page, "TaH+ 1.7B", "f32", tahRepo, "Use for Chat", "models-02-tah");
            await tahStatus(page).filter({ hasText: chatModelName }).waitFor({ timeout: 120_000 });
            const rows = await modelsView(page);
            await rows.filter({ hasText: chatModelFolder }).filter({ hasText: "chat, file analysis" }).waitFor();
            await rows.filter({ hasText: "TaH checkpoint" }).waitFor();
            await screenshot(page, "models-03-tah-in-view");
        }],
        ["the chat answers from the downloaded model", async (page) => {
            await ask(page, "Say something.");
            await screenshot(page, "models-04-chat");
        }],
        ["a cancelled download stays in the Models view as not finished, and Resume Download goes on from where it stopped", async (page) => {
            // a slower line, so that Cancel comes mid-file
            if (hub !== undefined)
                hub.faults = { chunkDelayMs: 200 };
            await runPalette(page, "TaH: Get a Model…");
            await pickRow(page, "Qwen2.5-Coder 0.5B").click();
            const progress = await notification(page, `TaH: downloading ${coderRepo}`, 60_000);
            await progress.getByText(/ of .* files/).waitFor({ timeout: 30_000 });
            await progress.getByRole("button", { name: "Cancel" }).click();
            await notification(page, "The download was cancelled", 30_000);
            if (hub !== undefined) {
                hub.faults = { chunkDelayMs: 40 };
                hub.requests.length = 0;
            }
            const partial = (await modelsView(page)).filter({ hasText: "download not finished" });
            await partial.waitFor();
            await screenshot(page, "models-05-cancelled");
            await partial.hover();
            await partial.locator("[aria-label^='Resume Download']").first().click();
            const ready = await notification(page, "is ready.", 120_000);
            const resumed = hub?.requests.some((request) => request.server === "storage" && /^bytes=[1-9]\d*-$/.test(request.headers.range ?? ""));
            if (resumed !== true)
                throw new Error(`the resumed download sent no Range from a byte already there: ${JSON.stringify(hub?.requests.map((request) => [request.server, request.url, request.headers.range]))}`);
            await screenshot(page, "models-06-coder-ready");
            await ready.getByRole("button", { name: "Use for Ghost Text" }).click();
        }],
        ["the code GGUF serves ghost text; the status bar and the view show both models", async (page) => {
            await tahStatus(page).filter({ hasText: `${chatModelName} · ghost text: qwen2.5-coder-0.5b-q8_0` }).waitFor({ timeout: 120_000 });
            const rows = await modelsView(page);
            await rows.filter({ hasText: "qwen2.5-coder-0.5b-q8_0" }).filter({ hasText: "ghost text" }).filter({ hasText: "loaded" }).waitFor({ timeout: 30_000 });
            await rows.filter({ hasText: chatModelFolder }).filter({ hasText: "loaded" }).waitFor();
            await screenshot(page, "models-07-both-in-view");
        }],
        ["ghost text comes from the code model while chat still answers from the TaH model", async (page) => {
            const suggested = await ghostText(page);
            await screenshot(page, "models-08-ghost-text");
            const expected = coderContinuation.trim().slice(0, 3);
            if (!suggested.trim().startsWith(expected))
                throw new Error(`ghost text ${JSON.stringify(suggested)} is not the code model's continuation ${JSON.stringify(coderContinuation)}`);
            await page.keyboard.press("Escape");
            await ask(page, "And again?");
            await screenshot(page, "models-09-chat-still-tah");
        }],
    ];
}

async function main(): Promise<number> {
    const started = Date.now();
    removeScreenshots("models");
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "tah-models-ui-"));
    const chatTiny = scriptedTinyTah("TaH-plus-1.7B");
    const coder = coderModel(backboneContinuation(chatTiny));
    const checkpoint = (await writeSyntheticCheckpoint(path.join(root, "checkpoint"), chatTiny)).dir;
    const coderGguf = path.join(root, coderFile);
    await writeTinyBackbone(coderGguf, coder.tiny);
    const hub: FakeHub = await startFakeHub([
        [tahRepo, { commit, files: await repoFilesFromFolder(checkpoint) }],
        [coderRepo, { commit, files: new Map([[coderFile, fs.readFileSync(coderGguf)]]) }],
    ]);
    // a slow line, so that the progress notification stays long enough to be seen
    hub.faults = { chunkDelayMs: 40 };
    const server = await startCodeServer({
        name: "models-ui",
        fixtureModels: false,
        // the proxy variables of this machine must not send loopback requests elsewhere
        env: { HTTPS_PROXY: "", HTTP_PROXY: "", https_proxy: "", http_proxy: "", HF_ENDPOINT: "", HF_TOKEN: "" },
        settings: {
            "tah.hub.endpoint": hub.endpoint,
            "tah.gpu": "cpu", "tah.threads": 1, "tah.contextSize": 2048,
            "tah.inlineCompletion.maxTokens": 8, "tah.inlineCompletion.maxMs": 5000, "tah.inlineCompletion.hardTokenPolicy": "off", "tah.chat.maxTokens": 48
        }
    });
    let results: CheckResult[];
    const browser = await launchBrowser(server.runDir);
    const all = checks(workbenchUrl(server.url, server.workspace), coder.continuation, hub);
    try {
        results = await runChecks(await newWorkbenchPage(browser), all, "models-ui");
        const storage = hub.requests.filter((request) => request.server === "storage").length;
        console.log(`  fake hub: ${hub.requests.length} requests (${storage} to its file storage)`);
    } finally {
        await browser.close();
        await server.stop();
        await hub.close();
        fs.rmSync(root, { recursive: true, force: true });
    }
    const { passed, failed } = writeResults(path.join(testOutput, "models-ui-results.json"), results);
    const notRun = all.length - results.length;
    console.log(`Models UI: ${passed} passed, ${failed} failed${notRun ? ` (${notRun} not run)` : ""} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return failed === 0 && notRun === 0 ? 0 : 1;
}

process.exitCode = await main();
