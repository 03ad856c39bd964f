// Starts code-server (a real VS Code server + Node extension host) for one e2e run, with fresh folders under a run
// directory, the VSIX installed, and a process group that stop() kills whole. See shared docs vscode-e2e.md §4.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { codeServerBin, node24Env, okMarker } from "../../scripts/e2e/paths.js";
import { writeFixtureModel } from "./fixtureModel.js";
import { writeScriptedModel } from "./scriptedModel.js";

const execFileAsync = promisify(execFile);

export const extensionId = "tah-copilot.tah-copilot";
export const repoRoot = path.resolve(import.meta.dirname, "..", "..");
/** What `npm run package` writes. */
export const vsixPath = path.join(repoRoot, "out", "tah-copilot-linux-x64.vsix");
/** Screenshots, result files and logs of the test runs (git-ignored). */
export const testOutput = path.join(repoRoot, "test-output");

/** Settings that keep the workbench quiet and deterministic offline (no tips, no auto-save, no AI features). */
const userSettings = {
    "workbench.startupEditor": "none",
    "security.workspace.trust.enabled": false,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false,
    "extensions.ignoreRecommendations": true,
    "chat.disableAIFeatures": true,
    "git.enabled": false,
    "files.autoSave": "off",
    "editor.hover.delay": 100,
    "workbench.tips.enabled": false,
    // An empty chat side bar would only take room in the screenshots.
    "workbench.secondarySideBar.defaultVisibility": "hidden",
};

export interface CodeServer {
    /** e.g. http://127.0.0.1:41234/ */
    readonly url: string;
    /** The run folder: user data, extensions and the workspace copy live here; stop() removes it. */
    readonly runDir: string;
    /** A fresh copy of test/e2e/fixtures/workspace. */
    readonly workspace: string;
    /** A tiny TaH model folder for the tests (its path is also in the extension host's TAH_TEST_MODEL). */
    readonly model: string;
    /** A tiny model whose chat answer is fixed (test/e2e/scriptedModel.ts; TAH_TEST_SCRIPTED_MODEL). */
    readonly scriptedModel: string;

    /** Where the VSIX was installed (`<publisher>.<name>-<version>`). */
    readonly installedExtension: string;
    /** Kills the server's process group, copies its logs to test-output/logs/<name>/ and removes the run folder. */
    stop(): Promise<void>;
}

export interface StartOptions {
    /** A label for the run folder (e.g. "ui"). */
    readonly name: string;
    /** Extra environment for the server, which the extension host inherits. */
    readonly env?: NodeJS.ProcessEnv;
    /** Extra user settings. */
    readonly settings?: Record<string, unknown>;
    /** The folder to open (copied); default test/e2e/fixtures/workspace. */
    readonly workspace?: string;
    /** A fixed port instead of a free one. */
    readonly port?: number;
    /** Write the tests' tiny models (default true). */
    readonly fixtureModels?: boolean;
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => { resolve(typeof address === "object" && address ? address.port : 0); });
        });
    });
}

async function waitForHealthz(url: string, isAlive: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (!isAlive()) throw new Error("code-server exited before it became healthy");
        try {
            const response = await fetch(new URL("healthz", url));
            if (response.ok) return;
        } catch {
            // not listening yet
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`code-server did not answer /healthz within ${timeoutMs / 1000} s`);
}

export async function startCodeServer(options: StartOptions): Promise<CodeServer> {
    if (!fs.existsSync(okMarker)) throw new Error("the e2e toolchain is not installed: run `npm run e2e:setup` first");
    if (!fs.existsSync(vsixPath)) throw new Error(`no VSIX at ${vsixPath}: run \`npm run package\` first`);
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `tah-e2e-${options.name}-`));
    const userData = path.join(runDir, "user-data");
    const extensions = path.join(runDir, "extensions");
    const config = path.join(runDir, "config.yaml");
    const workspace = path.join(runDir, "workspace");
    fs.mkdirSync(path.join(userData, "User"), { recursive: true });
    fs.writeFileSync(path.join(userData, "User", "settings.json"), JSON.stringify({ ...userSettings, ...options.settings }, null, 4));
    // code-server is a remote window: machine-scoped settings (tah.gpu, tah.threads, …) are read from here
    fs.mkdirSync(path.join(userData, "Machine"), { recursive: true });
    fs.writeFileSync(path.join(userData, "Machine", "settings.json"), JSON.stringify(options.settings ?? {}, null, 4));
    // An empty config file: code-server writes a default one (with a password) only when the file is missing.
    fs.writeFileSync(config, "");
    fs.cpSync(options.workspace ?? path.join(import.meta.dirname, "fixtures", "workspace"), workspace, { recursive: true });
    const withModels = options.fixtureModels ?? true;
    const model = withModels ? await writeFixtureModel(path.join(runDir, "model")) : "";
    const scriptedModel = withModels ? await writeScriptedModel(path.join(runDir, "scripted-model")) : "";

    // Fresh XDG folders and TMPDIR keep code-server out of the user's config and the system temp folder; a fresh cache
    // folder hides this machine's native build cache, so the extension runs only on what its VSIX carries.
    const env: NodeJS.ProcessEnv = {
        ...node24Env(),
        ...options.env,
        TAH_TEST_MODEL: model,
        TAH_TEST_SCRIPTED_MODEL: scriptedModel,
        XDG_CONFIG_HOME: path.join(runDir, "xdg-config"),
        XDG_DATA_HOME: path.join(runDir, "xdg-data"),
        XDG_CACHE_HOME: path.join(runDir, "xdg-cache"),
        TMPDIR: runDir,
    };
    const common = ["--config", config, "--user-data-dir", userData, "--extensions-dir", extensions];
    try {
        await execFileAsync(codeServerBin, [...common, "--install-extension", vsixPath], { env, timeout: 120_000 });
    } catch (error) {
        fs.rmSync(runDir, { recursive: true, force: true });
        throw error;
    }
    const installed = fs.readdirSync(extensions).find((entry) => entry.startsWith(`${extensionId}-`));
    if (!installed) throw new Error(`the VSIX did not install into ${extensions}`);

    const port = options.port ?? await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const log = path.join(runDir, "code-server.log");
    const logFd = fs.openSync(log, "w");
    // detached = setsid: the server gets its own process group, so stop() can kill it and every helper it forked
    // (killing only the main pid leaves file-watcher orphans).
    const child = spawn(codeServerBin, [
        ...common, "--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--disable-telemetry", "--disable-update-check",
        "--disable-workspace-trust", "--disable-getting-started-override", "--ignore-last-opened",
    ], { env, detached: true, stdio: ["ignore", logFd, logFd] });
    fs.closeSync(logFd);
    const pgid = child.pid;
    if (pgid === undefined) throw new Error("code-server did not start");
    let exited = false;
    const onExit = new Promise<void>((resolve) => child.once("exit", () => { exited = true; resolve(); }));

    const groupAlive = (): boolean => {
        try {
            process.kill(-pgid, 0);
            return true;
        } catch {
            return false;
        }
    };
    const killGroup = (signal: NodeJS.Signals): void => {
        try {
            process.kill(-pgid, signal);
        } catch {
            // the group is already gone
        }
    };
    // Last resorts when the driver ends without calling stop(): an uncaught error (exit) or a signal from the test
    // runner's timeout. Both kill the server's group, which is not the driver's own, and drop the run folder.
    const onProcessExit = (): void => {
        killGroup("SIGKILL");
        // Exit handlers must be synchronous: wait (up to 3 s) for the group to die, or its last writes race the rm.
        const sleeper = new Int32Array(new SharedArrayBuffer(4));
        for (let waited = 0; waited < 3000 && groupAlive(); waited += 50) Atomics.wait(sleeper, 0, 0, 50);
        fs.rmSync(runDir, { recursive: true, force: true, maxRetries: 3 });
    };
    const onSignal = (signal: NodeJS.Signals): void => {
        process.exit(signal === "SIGINT" ? 130 : 143); // runs onProcessExit
    };
    process.once("exit", onProcessExit);
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);

    const stop = async (): Promise<void> => {
        process.removeListener("exit", onProcessExit);
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
        killGroup("SIGTERM");
        await Promise.race([onExit, new Promise((resolve) => setTimeout(resolve, 5000))]);
        // Helpers may outlive the main process: make sure the whole group is gone.
        killGroup("SIGKILL");
        await onExit;
        // Keep the logs (server and extension host) for a look after the run; drop the rest of the run folder.
        const logsOut = path.join(testOutput, "logs", options.name);
        fs.rmSync(logsOut, { recursive: true, force: true });
        fs.mkdirSync(logsOut, { recursive: true });
        fs.copyFileSync(log, path.join(logsOut, "code-server.log"));
        const vscodeLogs = path.join(userData, "logs");
        if (fs.existsSync(vscodeLogs)) fs.cpSync(vscodeLogs, path.join(logsOut, "vscode"), { recursive: true });
        fs.rmSync(runDir, { recursive: true, force: true });
    };

    try {
        await waitForHealthz(url, () => !exited, 60_000);
    } catch (error) {
        const output = fs.readFileSync(log, "utf8");
        await stop();
        throw new Error(`${String(error)}\n--- code-server output ---\n${output}`, { cause: error });
    }
    return { url, runDir, workspace, model, scriptedModel, installedExtension: path.join(extensions, installed), stop };
}
