import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The CMake option that marks our build. node-llama-cpp derives the build folder and a variant suffix of
 * libllama/libggml from custom CMake options, so the patched binary can never be mistaken for a prebuilt one.
 */
export const tahCmakeOptions = { NLC_TAH_PATCH: "tah1" } as const;

export type GpuBackend = "cpu" | "vulkan" | "cuda";

/** The package root: the folder of the package.json named tah-copilot above this module (source or bundle). */
export function packageRoot(): string {
    let dir = path.dirname(fileURLToPath(import.meta.url));
    for (;;) {
        const manifest = path.join(dir, "package.json");
        if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "tah-copilot")
            return dir;
        const parent = path.dirname(dir);
        if (parent === dir)
            throw new Error("cannot find the tah-copilot package root");
        dir = parent;
    }
}

function listFiles(dir: string, prefix = ""): string[] {
    return readdirSync(dir, { withFileTypes: true })
        .filter((entry) => !entry.name.startsWith("."))
        .flatMap((entry) => entry.isDirectory()
            ? listFiles(path.join(dir, entry.name), `${prefix}${entry.name}/`)
            : [`${prefix}${entry.name}`])
        .sort();
}

export function nodeLlamaCppVersion(root = packageRoot()): string {
    const manifest = path.join(root, "node_modules", "node-llama-cpp", "package.json");
    return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
}

/**
 * The identity of a native build: a hash of everything under native-patches/ and of node-llama-cpp's version.
 * The build compiles it into the addon; at run time the engine refuses a binary whose identity differs.
 */
export function nativeBuildId(root = packageRoot()): string {
    const patchesDir = path.join(root, "native-patches");
    const hash = createHash("sha256");
    hash.update(`node-llama-cpp@${nodeLlamaCppVersion(root)}\n`);
    for (const file of listFiles(patchesDir)) {
        hash.update(`${file}\n`);
        hash.update(readFileSync(path.join(patchesDir, file)));
    }
    return hash.digest("hex").slice(0, 16);
}
