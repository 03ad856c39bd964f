// Integration tests inside code-server's Node extension host, the way @vscode/test-web runs them: the page's
// workbench configuration gets developmentOptions (the installed VSIX as the development extension, and the
// bundled mocha entry out/test/index.cjs as the tests), and the workbench reports the outcome through
// window.codeAutomationExit. See shared docs vscode-e2e.md §6.2 (B).
import fs from "node:fs";
import path from "node:path";
import { captureConsole, launchBrowser, newWorkbenchPage, removeScreenshots, screenshot, workbenchUrl } from "./browser.js";
import { repoRoot, startCodeServer, testOutput } from "./codeServer.js";

const resultsFile = path.join(testOutput, "integration-results.json");
const testsEntry = path.join(repoRoot, "out", "test", "index.cjs");
const timeoutMs = 300_000;

/**
 * Browser code that patches the workbench configuration (the data-settings of #vscode-workbench-web-configuration)
 * before the workbench reads it. The URIs must carry the page's own host:port as authority (not "remote"), or the
 * development extension is silently ignored. A string, not a function: tsx would compile a function with helpers
 * (`__name`) that do not exist in the page.
 */
function injectDevelopmentOptions(authority: string, extensionPath: string, testsPath: string): string {
    return `(() => {
        const args = ${JSON.stringify({ authority, extensionPath, testsPath })};
        const uri = (path) => ({ scheme: "vscode-remote", authority: args.authority, path });
        const getAttribute = Element.prototype.getAttribute;
        Element.prototype.getAttribute = function (name) {
            const value = getAttribute.call(this, name);
            if (name !== "data-settings" || this.id !== "vscode-workbench-web-configuration" || !value) return value;
            const config = JSON.parse(value);
            config.developmentOptions = {
                ...config.developmentOptions,
                extensions: [uri(args.extensionPath)],
                extensionTestsPath: uri(args.testsPath),
            };
            return JSON.stringify(config);
        };
    })();`;
}

interface IntegrationResults {
    readonly passed: number;
    readonly failed: number;
}

async function main(): Promise<number> {
    const started = Date.now();
    if (!fs.existsSync(testsEntry)) throw new Error(`no ${testsEntry}: run \`npm run build\` first`);
    fs.rmSync(resultsFile, { force: true });
    removeScreenshots("integration");
    // The extension host inherits code-server's environment; this is how the tests learn where to write results.
    const server = await startCodeServer({ name: "integration", env: { TAH_TEST_RESULTS: resultsFile } });
    const browser = await launchBrowser(server.runDir);
    let exitCode: number | "timeout";
    try {
        const page = await newWorkbenchPage(browser);
        const consoleLines = captureConsole(page);
        await page.addInitScript({ content: injectDevelopmentOptions(new URL(server.url).host, server.installedExtension, testsEntry) });
        let resolveExit: (code: number) => void = () => undefined;
        const exited = new Promise<number>((resolve) => { resolveExit = resolve; });
        // The workbench forwards its own and the extension host's console here, unformatted (no printf), so
        // index.ts logs preformatted lines. Test lines go to the terminal, everything to the console log file.
        await page.exposeFunction("codeAutomationLog", (type: string, args: unknown[]) => {
            const line = args.map(String).join(" ");
            consoleLines.push(`[automation ${type}] ${line}`);
            if (/^(✓|✗|\d+ passed, \d+ failed)/.test(line)) console.log(`  ${line}`);
        });
        await page.exposeFunction("codeAutomationExit", (code: number) => { resolveExit(code); });
        await page.goto(workbenchUrl(server.url, server.workspace));
        let timer: NodeJS.Timeout | undefined;
        exitCode = await Promise.race([
            exited,
            new Promise<"timeout">((resolve) => { timer = setTimeout(() => { resolve("timeout"); }, timeoutMs); }),
        ]);
        clearTimeout(timer);
        await screenshot(page, "integration-end").catch(() => undefined);
        fs.mkdirSync(path.join(testOutput, "logs"), { recursive: true });
        fs.writeFileSync(path.join(testOutput, "logs", "integration-browser-console.log"), consoleLines.join("\n") + "\n");
    } finally {
        await browser.close();
        await server.stop();
    }

    let results: IntegrationResults | undefined;
    if (fs.existsSync(resultsFile)) results = JSON.parse(fs.readFileSync(resultsFile, "utf8")) as IntegrationResults;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (exitCode === "timeout") console.log(`integration: no result after ${timeoutMs / 1000} s`);
    if (!results) console.log(`integration: the tests wrote no ${path.relative(repoRoot, resultsFile)} (exit code ${exitCode})`);
    console.log(`integration: ${results?.passed ?? 0} passed, ${results?.failed ?? 0} failed in ${seconds} s`);
    return exitCode === 0 && results !== undefined && results.failed === 0 && results.passed > 0 ? 0 : 1;
}

process.exitCode = await main();
