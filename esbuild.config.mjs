// Bundles the extension (Node, CommonJS, for the extension host), the engine process (Node, ESM), the webview
// scripts (browser) and the integration tests (CommonJS, loaded by the extension host). `node esbuild.config.mjs`.
import * as esbuild from "esbuild";
import { readdirSync, rmSync } from "node:fs";
import path from "node:path";

// node-llama-cpp loads its native addon and build folders relative to its own files, so it is shipped as is.
const nodeExternals = ["node-llama-cpp"];

// CommonJS bundles have no import.meta.url; sources are ESM and use it (e.g. to find the package root).
const cjsImportMetaUrl = {
    banner: { js: "const __importMetaUrl = require(\"node:url\").pathToFileURL(__filename).href;" },
    define: { "import.meta.url": "__importMetaUrl" },
};

const common = { bundle: true, sourcemap: "linked", logLevel: "info", legalComments: "none" };

function testEntries(dir) {
    return readdirSync(dir, { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith(".ts"))
        .map((file) => path.join(dir, file));
}

/** A Node ESM program (the engine process, the `tah` command line). */
function nodeEsm(entry, outfile) {
    return {
        ...common,
        entryPoints: [entry],
        outfile,
        platform: "node",
        format: "esm",
        target: "node20",
        external: nodeExternals,
        // Bundled CommonJS dependencies may call require(); give ESM output one.
        banner: { js: "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);" },
    };
}

const targets = [
    {
        ...common,
        ...cjsImportMetaUrl,
        entryPoints: ["src/extension.ts"],
        outfile: "dist/extension.cjs",
        platform: "node",
        format: "cjs",
        target: "node20",
        external: ["vscode", ...nodeExternals],
    },
    nodeEsm("src/cli/main.ts", "dist/cli.mjs"),
    nodeEsm("src/engine/process/main.ts", "dist/engine.mjs"),
    {
        ...common,
        // Each view's script imports its stylesheet, so esbuild writes <view>.js and <view>.css.
        entryPoints: { chat: "webview/chat/main.ts", preview: "webview/preview/main.ts" },
        outdir: "dist/webview",
        entryNames: "[name]",
        platform: "browser",
        format: "iife",
        target: "chrome120",
    },
    {
        ...common,
        ...cjsImportMetaUrl,
        entryPoints: testEntries("test/integration"),
        outdir: "out/test",
        outbase: "test/integration",
        outExtension: { ".js": ".cjs" },
        platform: "node",
        format: "cjs",
        target: "node20",
        // mocha is loaded from the clone's node_modules (it finds its own files at run time).
        external: ["vscode", "mocha", ...nodeExternals],
    },
];

// Start clean, so a deleted source (a test file above all) leaves no stale bundle behind.
rmSync("dist", { recursive: true, force: true });
rmSync("out/test", { recursive: true, force: true });
await Promise.all(targets.map((options) => esbuild.build(options)));
