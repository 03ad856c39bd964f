// `npm run demo`: installs what is missing, builds, and starts code-server on 127.0.0.1 with the extension installed,
// a sample workspace and the default model, then prints the URL. Ctrl-C stops it and cleans up.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { startCodeServer } from "../test/e2e/codeServer.js";

const root = path.resolve(import.meta.dirname, "..");
const defaultModel = path.join(root, "models", "tah-code-default");
const port = Number(process.env.TAH_DEMO_PORT ?? 8765);

function step(label: string, command: string, args: string[]): void {
    console.log(`\n[demo] ${label}: ${command} ${args.join(" ")}`);
    const result = spawnSync(command, args, { cwd: root, stdio: "inherit" });
    if (result.status !== 0)
        throw new Error(`${label} failed (exit code ${result.status})`);
}

step("toolchain (apt packages, Node 24, code-server)", "npx", ["--no", "tsx", "scripts/e2e/setup.ts"]);
step("patched llama.cpp", "npx", ["--no", "tsx", "scripts/build-native.ts"]);
step("bundles", "npm", ["run", "build"]);
step("VSIX", "npm", ["run", "package"]);
if (!existsSync(path.join(defaultModel, "tah-model.json")))
    throw new Error(`the default model is missing at ${defaultModel}`);

const server = await startCodeServer({
    name: "demo",
    port,
    workspace: path.join(root, "scripts", "demo", "workspace"),
    fixtureModels: false,
    settings: { "tah.modelPath": defaultModel }
});
console.log(`
TaH Copilot is running in VS Code (code-server) at ${server.url}
  model: ${defaultModel}
  open the URL in a browser on this machine; stop with Ctrl-C
`);
// code-server runs until this process gets a signal; startCodeServer's handlers stop it and clean up
setInterval(() => undefined, 1 << 30);
