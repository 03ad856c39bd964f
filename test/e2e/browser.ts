// Headless Debian chromium through playwright-core, and the bookkeeping both e2e drivers share.
import fs from "node:fs";
import path from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";
import { chromiumPath } from "../../scripts/e2e/paths.js";
import { testOutput } from "./codeServer.js";

export const screenshotDir = path.join(testOutput, "screenshots");

/** `runDir`: a folder for chromium's own config (crash reports), instead of ~/.config/chromium. */
export async function launchBrowser(runDir: string): Promise<Browser> {
    return chromium.launch({
        executablePath: chromiumPath,
        headless: true,
        env: { ...process.env, XDG_CONFIG_HOME: path.join(runDir, "chromium-config"), XDG_CACHE_HOME: path.join(runDir, "chromium-cache") },
        // No sandbox (root in a container), no GPU, and nothing that reaches out to the network on its own.
        args: [
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
        ],
    });
}

export async function newWorkbenchPage(browser: Browser): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
    page.setDefaultTimeout(60_000);
    return page;
}

/** The page's console and uncaught errors, as lines for the run's console log (the list grows as they come). */
export function captureConsole(page: Page): string[] {
    const lines: string[] = [];
    page.on("console", (message) => lines.push(`[${message.type()}] ${message.text()}`));
    page.on("pageerror", (error) => lines.push(`[pageerror] ${error.message}`));
    return lines;
}

export function workbenchUrl(serverUrl: string, folder: string): string {
    return `${serverUrl}?folder=${encodeURIComponent(folder)}`;
}

/** Removes the screenshots of one driver (its name prefix), leaving the other driver's in place. */
export function removeScreenshots(prefix: string): void {
    if (!fs.existsSync(screenshotDir)) return;
    for (const file of fs.readdirSync(screenshotDir).filter((name) => name.startsWith(`${prefix}-`))) {
        fs.rmSync(path.join(screenshotDir, file));
    }
}

export async function screenshot(page: Page, name: string): Promise<string> {
    fs.mkdirSync(screenshotDir, { recursive: true });
    const file = path.join(screenshotDir, `${name}.png`);
    await page.screenshot({ path: file });
    return file;
}

export interface CheckResult {
    readonly name: string;
    readonly passed: boolean;
    readonly durationMs: number;
    readonly error?: string;
}

export interface RunResults {
    readonly passed: number;
    readonly failed: number;
    readonly checks: readonly CheckResult[];
}

export function writeResults(file: string, checks: readonly CheckResult[]): RunResults {
    const results = {
        passed: checks.filter((check) => check.passed).length,
        failed: checks.filter((check) => !check.passed).length,
        checks,
    };
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(results, null, 4) + "\n");
    return results;
}

export type Check = readonly [name: string, run: (page: Page) => Promise<void>];

/**
 * Runs the checks in order on one page until one fails (later checks build on the earlier ones), with a screenshot
 * `<prefix>-failure` of the failing one; the page's console goes to test-output/logs/<prefix>-browser-console.log.
 */
export async function runChecks(page: Page, checks: readonly Check[], prefix: string): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    const consoleLines = captureConsole(page);
    try {
        for (const [name, run] of checks) {
            const checkStarted = Date.now();
            try {
                await run(page);
                results.push({ name, passed: true, durationMs: Date.now() - checkStarted });
                console.log(`  ✓ ${name} (${((Date.now() - checkStarted) / 1000).toFixed(1)} s)`);
            } catch (error) {
                results.push({ name, passed: false, durationMs: Date.now() - checkStarted, error: String(error) });
                console.log(`  ✗ ${name}\n    ${String(error).split("\n").join("\n    ")}`);
                await screenshot(page, `${prefix}-failure`).catch(() => undefined);
                break;
            }
        }
    } finally {
        fs.mkdirSync(path.join(testOutput, "logs"), { recursive: true });
        fs.writeFileSync(path.join(testOutput, "logs", `${prefix}-browser-console.log`), consoleLines.join("\n") + "\n");
    }
    return results;
}

/** Runs a command by its title from the command palette (closing whatever quick input is open first). */
export async function runPalette(page: Page, title: string): Promise<void> {
    await page.keyboard.press("Escape");
    await page.keyboard.press("F1");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible" });
    await input.fill(`>${title}`);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor();
    await page.keyboard.press("Enter");
}

/** The status-bar item of TaH. */
export function tahStatus(page: Page): ReturnType<Page["locator"]> {
    return page.locator(".statusbar-item", { hasText: "TaH:" });
}
