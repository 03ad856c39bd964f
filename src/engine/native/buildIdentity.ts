import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The CMake options of our build. NLC_TAH_PATCH marks it: node-llama-cpp derives the build folder and a variant
 * suffix of libllama/libggml from custom CMake options, so the patched binary can never be mistaken for a prebuilt
 * one. The others make it portable, as llama.cpp's and node-llama-cpp's releases are: every CPU variant from the
 * SSE4.2 baseline to AVX-512 is its own backend library (libggml-cpu-<variant>.so) and ggml loads the best one the
 * CPU supports at run time; a GPU backend is a library of its own too, loaded only if its driver works.
 */
export const tahCmakeOptions = {
    NLC_TAH_PATCH: "tah1",
    GGML_NATIVE: "OFF",
    GGML_BACKEND_DL: "ON",
    GGML_CPU_ALL_VARIANTS: "ON"
} as const;

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
 * The identity of a native build: a hash of everything under native-patches/, of the CMake options and of
 * node-llama-cpp's version. The build compiles it into the addon; at run time the engine refuses a binary whose
 * identity differs, and a changed option or patch is a new build (and a new cache entry).
 */
export function nativeBuildId(root = packageRoot()): string {
    const patchesDir = path.join(root, "native-patches");
    const hash = createHash("sha256");
    hash.update(`node-llama-cpp@${nodeLlamaCppVersion(root)}\n`);
    for (const [key, value] of Object.entries(tahCmakeOptions).sort(([a], [b]) => a.localeCompare(b)))
        hash.update(`cmake ${key}=${value}\n`);
    for (const file of listFiles(patchesDir)) {
        hash.update(`${file}\n`);
        hash.update(readFileSync(path.join(patchesDir, file)));
    }
    return hash.digest("hex").slice(0, 16);
}
