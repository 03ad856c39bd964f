/**
 * Builds node-llama-cpp's addon from the llama.cpp source it ships (offline), with TaH's patches and addon
 * sources from native-patches/, as a variant build that node-llama-cpp keeps apart from its prebuilt binaries.
 *
 *   npm run build:native -- [--gpu cpu|vulkan|cuda] [--cuda-arch 90] [--force]
 *
 * The build is portable (see tahCmakeOptions): every CPU variant is a backend library of its own, chosen at run time.
 * A Vulkan build also installs a CPU build derived from it: the same files without libggml-vulkan.so (with
 * GGML_BACKEND_DL nothing else depends on the GPU backend). node-llama-cpp loads a folder of another kind only if
 * its GPU backend works there, so the engine falls back to the CPU folder when Vulkan cannot start.
 *
 * Builds are cached outside the clone, keyed by the build identity (a hash of native-patches/, the CMake options and
 * node-llama-cpp's version). When only native-patches/ changed and a build tree exists, it rebuilds incrementally.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type GpuBackend, nativeBuildId, nodeLlamaCppVersion, packageRoot, tahCmakeOptions } from "../src/engine/native/buildIdentity.js";
import { type BuildRecord, buildRecordName, installedBuilds, localBuildsDir, readBuildRecord } from "../src/engine/native/installedBuilds.js";

const root = packageRoot();
const llamaDir = path.join(root, "node_modules", "node-llama-cpp", "llama");
const cliPath = path.join(root, "node_modules", "node-llama-cpp", "dist", "cli", "cli.js");

class BuildError extends Error {}

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): void {
    const result = spawnSync(command, args, { stdio: "inherit", cwd: options.cwd ?? root, env: { ...process.env, ...options.env } });
    if (result.error)
        throw new BuildError(`${command} could not start: ${result.error.message}`);
    if (result.status !== 0)
        throw new BuildError(`${command} ${args.join(" ")} failed with exit code ${result.status}`);
}

function succeeds(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): boolean {
    return spawnSync(command, args, { cwd, stdio: "ignore", env: { ...process.env, ...env } }).status === 0;
}

function toolVersion(command: string): string | undefined {
    try {
        return execFileSync(command, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    } catch {
        return undefined;
    }
}

/** The CUDA toolkit folders searched, when none of them has cuBLAS headers; undefined when one has. */
function cudaToolkitLacksCublas(): string | undefined {
    const nvcc = spawnSync("sh", ["-c", "command -v nvcc"], { encoding: "utf8" }).stdout.trim();
    const local = existsSync("/usr/local") ? readdirSync("/usr/local").filter((name) => name.startsWith("cuda")).map((name) => path.join("/usr/local", name)) : [];
    const toolkits = [...new Set([
        ...(nvcc === "" ? [] : [path.dirname(path.dirname(realpathSync(nvcc)))]),
        ...[process.env.CUDA_HOME, process.env.CUDA_PATH].filter((dir): dir is string => dir !== undefined && dir !== ""),
        ...local
    ])];
    const target = `${process.arch === "arm64" ? "sbsa" : "x86_64"}-linux`;
    const found = toolkits.some((dir) => [path.join(dir, "include", "cublas_v2.h"), path.join(dir, "targets", target, "include", "cublas_v2.h")].some((file) => existsSync(file)));
    return found ? undefined : toolkits.join(", ");
}

function checkTools(gpu: GpuBackend): void {
    const missing: string[] = [];
    if (toolVersion("git") === undefined)
        missing.push("git (Debian: apt-get install git)");
    const cmake = toolVersion("cmake")?.match(/version (\d+)\.(\d+)/);
    if (cmake === undefined || cmake === null || Number(cmake[1]) * 100 + Number(cmake[2]) < 319)
        missing.push("cmake >= 3.19 (Debian: apt-get install cmake)");
    if (!["c++", "g++", "clang++"].some((compiler) => toolVersion(compiler) !== undefined))
        missing.push("a C++17 compiler (Debian: apt-get install g++)");
    if (toolVersion("ninja") === undefined)
        missing.push("ninja (Debian: apt-get install ninja-build)");
    if (gpu === "vulkan") {
        if (toolVersion("glslc") === undefined)
            missing.push("glslc (Debian: apt-get install glslc)");
        if (!existsSync("/usr/include/vulkan/vulkan.h"))
            missing.push("the Vulkan headers (Debian: apt-get install libvulkan-dev spirv-headers)");
    }
    if (gpu === "cuda") {
        const cublas = cudaToolkitLacksCublas();
        if (toolVersion("nvcc") === undefined)
            missing.push("nvcc from the CUDA toolkit, with cuBLAS");
        else if (cublas !== undefined)
            missing.push(`cuBLAS: no cublas_v2.h in ${cublas} (ggml-cuda links cuBLAS; install the toolkit's cuBLAS development files)`);
    }
    if (missing.length > 0)
        throw new BuildError(`cannot build the patched llama.cpp; missing:\n  - ${missing.join("\n  - ")}`);
}

function cacheRoot(): string {
    if (process.env.TAH_NATIVE_CACHE)
        return process.env.TAH_NATIVE_CACHE;
    return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "tah-copilot", "native");
}

function sameCmakeOptions(options: Record<string, string> | undefined): boolean {
    const sorted = (entries: Record<string, string>): string => JSON.stringify(Object.entries(entries).sort(([a], [b]) => a.localeCompare(b)));
    return options !== undefined && sorted(options) === sorted(tahCmakeOptions);
}

function gitApply(cwd: string, patch: string, env: NodeJS.ProcessEnv = {}): "applied" | "already" | "conflict" {
    if (succeeds("git", ["apply", "--reverse", "--check", patch], cwd, env))
        return "already";
    if (!succeeds("git", ["apply", "--check", patch], cwd, env))
        return "conflict";
    run("git", ["apply", patch], { cwd, env });
    return "applied";
}

function patchFiles(kind: "llama.cpp" | "node-llama-cpp"): string[] {
    const dir = path.join(root, "native-patches", kind);
    return readdirSync(dir).filter((name) => name.endsWith(".patch")).sort().map((name) => path.join(dir, name));
}

/** Applies every patch; false when one conflicts (a changed patch needs a fresh source tree). */
function applyPatches(): boolean {
    const llamaCppDir = path.join(llamaDir, "llama.cpp");
    for (const patch of patchFiles("llama.cpp")) {
        if (gitApply(llamaCppDir, patch) === "conflict")
            return false;
    }
    // addon.cpp is not in a git work tree: keep git from finding the project's repository above it
    const outsideRepo = { GIT_CEILING_DIRECTORIES: path.dirname(llamaDir) };
    for (const patch of patchFiles("node-llama-cpp")) {
        if (gitApply(llamaDir, patch, outsideRepo) === "conflict")
            return false;
    }
    return true;
}

function copyAddonSources(buildId: string): void {
    const target = path.join(llamaDir, "addon", "tah");
    rmSync(target, { recursive: true, force: true });
    cpSync(path.join(root, "native-patches", "addon"), target, { recursive: true });
    writeFileSync(path.join(target, "tahBuildId.h"), `#pragma once\n#define TAH_BUILD_ID "${buildId}"\n`);
}

function freshSource(): void {
    rmSync(path.join(llamaDir, "llama.cpp"), { recursive: true, force: true });
    rmSync(path.join(llamaDir, "llama.cpp.info.json"), { force: true });
    run(process.execPath, [cliPath, "source", "download", "--skipBuild", "--noUsageExample"]);
    // node-llama-cpp's own addon.cpp may carry an older registration hunk from a previous build
    const addonCpp = path.join(llamaDir, "addon", "addon.cpp");
    const outsideRepo = { GIT_CEILING_DIRECTORIES: path.dirname(llamaDir) };
    for (const patch of patchFiles("node-llama-cpp").reverse()) {
        if (succeeds("git", ["apply", "--reverse", "--check", patch], llamaDir, outsideRepo))
            run("git", ["apply", "--reverse", patch], { cwd: llamaDir, env: outsideRepo });
    }
    if (readFileSync(addonCpp, "utf8").includes("tah/"))
        throw new BuildError(`${addonCpp} carries an unknown TaH registration; reinstall node-llama-cpp (npm ci)`);
}

function cmakeEnv(cudaArch: string | undefined): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(tahCmakeOptions))
        env[`NODE_LLAMA_CPP_CMAKE_OPTION_${key}`] = value;
    if (cudaArch !== undefined)
        env.NODE_LLAMA_CPP_CMAKE_OPTION_CMAKE_CUDA_ARCHITECTURES = cudaArch;
    return env;
}

function fullBuild(gpu: GpuBackend, cudaArch: string | undefined, buildId: string): string {
    // keep a source tree that already carries exactly these patches: other GPU kinds' build trees compile from it
    if (!existsSync(path.join(llamaDir, "llama.cpp", ".git")) || !applyPatches()) {
        freshSource();
        if (!applyPatches())
            throw new BuildError("a patch in native-patches/ does not apply to node-llama-cpp's llama.cpp source");
    }
    copyAddonSources(buildId);
    run(process.execPath, [cliPath, "source", "build", "--gpu", gpu === "cpu" ? "false" : gpu, "--noUsageExample"], { env: cmakeEnv(cudaArch) });
    const lastBuild = JSON.parse(readFileSync(path.join(llamaDir, "lastBuild.json"), "utf8")) as { folderName: string };
    return path.join(llamaDir, "localBuilds", lastBuild.folderName);
}

/** Rebuilds an existing build tree with ninja; false when that is not possible (no tree, other CMake options). */
function incrementalBuild(folder: string, record: BuildRecord, buildId: string): boolean {
    if (!existsSync(path.join(folder, "build.ninja")) || !sameCmakeOptions(record.cmakeOptions) || !applyPatches())
        return false;
    copyAddonSources(buildId);
    run("cmake", ["."], { cwd: folder });
    run("ninja", [], { cwd: folder });
    const bin = path.join(folder, "bin");
    for (const file of readdirSync(bin).filter((name) => name.endsWith(".so") || name.endsWith(".node")))
        cpSync(path.join(bin, file), path.join(folder, "Release", file));
    return true;
}

/** What node-llama-cpp needs of a local build to load it: the Release folder and the build-done marker beside it. */
const runtimeFiles = ["Release", "buildDone.status"];

/** The GPU backend's own files in a build folder: what a CPU build derived from it leaves out. */
const gpuBackendFile = /^(libggml-(vulkan|cuda)\.(so|dll|dylib)|ggml-(vulkan|cuda)\.dll|vulkan-shaders-gen)$/;

/**
 * Installs a CPU build made of a GPU build's files without its GPU backend, in the folder node-llama-cpp looks in
 * for a CPU build of the same CMake options (the GPU build's name without the GPU part).
 */
function deriveCpuBuild(gpuFolder: string, gpuRecord: BuildRecord): BuildRecord {
    const folderName = gpuRecord.folderName.replace(`-${gpuRecord.gpu}-`, "-");
    const folder = path.join(localBuildsDir(root), folderName);
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(path.join(folder, "Release"), { recursive: true });
    for (const file of readdirSync(path.join(gpuFolder, "Release")).filter((name) => !gpuBackendFile.test(name)))
        cpSync(path.join(gpuFolder, "Release", file), path.join(folder, "Release", file), { recursive: true });
    cpSync(path.join(gpuFolder, "buildDone.status"), path.join(folder, "buildDone.status"));
    // node-llama-cpp checks a local build's GPU kind against this file before it loads it
    const metadataFile = path.join(folder, "Release", "_nlcBuildMetadata.json");
    const metadata = JSON.parse(readFileSync(metadataFile, "utf8")) as { buildOptions: { gpu: unknown } };
    metadata.buildOptions.gpu = false;
    writeFileSync(metadataFile, JSON.stringify(metadata));
    const record: BuildRecord = { ...gpuRecord, gpu: "cpu", folderName, derivedFrom: gpuRecord.gpu };
    writeFileSync(path.join(folder, "Release", buildRecordName), `${JSON.stringify(record, null, 2)}\n`);
    return record;
}

/** Removes our local builds of other build ids: they can never load, and the VSIX would carry them. */
function removeStaleBuilds(buildId: string): void {
    for (const { folder, record } of installedBuilds()) {
        if (record.buildId !== buildId) {
            rmSync(folder, { recursive: true, force: true });
            console.log(`removed the stale native build ${record.gpu} ${record.buildId} (${record.folderName})`);
        }
    }
}

/** Keeps the newest `keep` cache entries of a GPU kind: every change of native-patches/ adds one. */
function pruneCache(gpu: GpuBackend, keep: number): void {
    const root = cacheRoot();
    const entries = readdirSync(root)
        .filter((name) => name.startsWith(`${gpu}-`) && !name.includes(".partial-"))
        .map((name) => ({ name, time: statSync(path.join(root, name)).mtimeMs }))
        .sort((a, b) => b.time - a.time);
    for (const old of entries.slice(keep))
        rmSync(path.join(root, old.name), { recursive: true, force: true });
}

function saveToCache(folder: string, entry: string): void {
    const temporary = `${entry}.partial-${process.pid}`;
    rmSync(temporary, { recursive: true, force: true });
    for (const file of runtimeFiles)
        cpSync(path.join(folder, file), path.join(temporary, file), { recursive: true });
    rmSync(entry, { recursive: true, force: true });
    renameSync(temporary, entry);
}

function restoreFromCache(entry: string, record: BuildRecord): void {
    const folder = path.join(localBuildsDir(root), record.folderName);
    // only the runtime files: a build tree beside them stays, for the next incremental build
    mkdirSync(folder, { recursive: true });
    for (const file of runtimeFiles) {
        rmSync(path.join(folder, file), { recursive: true, force: true });
        cpSync(path.join(entry, file), path.join(folder, file), { recursive: true });
    }
}

/** Builds (or restores) one kind; a Vulkan build also installs the CPU build derived from it. */
function buildKind(gpu: GpuBackend, buildId: string, options: { force?: boolean; cudaArch?: string }): BuildRecord {
    const installed = installedBuilds(gpu, root).filter((entry) => entry.record.derivedFrom === undefined);
    const current = installed.find((entry) => entry.record.buildId === buildId);
    if (current !== undefined && !options.force) {
        console.log(`native build ${gpu} ${buildId} is installed (${current.record.folderName})`);
        return current.record;
    }

    const entry = path.join(cacheRoot(), `${gpu}-${buildId}`);
    const cached = readBuildRecord(path.join(entry, "Release", buildRecordName));
    if (cached !== undefined && existsSync(path.join(entry, "buildDone.status")) && !options.force) {
        restoreFromCache(entry, cached);
        console.log(`native build ${gpu} ${buildId} restored from ${entry}`);
        return cached;
    }

    const started = Date.now();
    const tree = installed[0];
    const folder = tree !== undefined && !options.force && incrementalBuild(tree.folder, tree.record, buildId)
        ? tree.folder
        : fullBuild(gpu, options.cudaArch, buildId);
    const record: BuildRecord = {
        buildId, gpu, folderName: path.basename(folder), nodeLlamaCppVersion: nodeLlamaCppVersion(root),
        cmakeOptions: { ...tahCmakeOptions }, seconds: Math.round((Date.now() - started) / 1000)
    };
    writeFileSync(path.join(folder, "Release", buildRecordName), `${JSON.stringify(record, null, 2)}\n`);
    saveToCache(folder, entry);
    pruneCache(gpu, 3);
    console.log(`native build ${gpu} ${buildId} done in ${record.seconds} s (${record.folderName}), cached in ${entry}`);
    return record;
}

export function buildNative(gpu: GpuBackend, options: { force?: boolean; cudaArch?: string } = {}): BuildRecord {
    const buildId = nativeBuildId(root);
    // a CPU build comes from the Vulkan build tree when there is one: rebuilding that is incremental
    const viaVulkan = gpu === "vulkan" || (gpu === "cpu" && installedBuilds("vulkan", root).some((entry) => entry.record.derivedFrom === undefined));
    const kind = viaVulkan ? "vulkan" : gpu;
    checkTools(kind);
    const record = buildKind(kind, buildId, options);
    const cpu = viaVulkan ? deriveCpuBuild(path.join(localBuildsDir(root), record.folderName), record) : undefined;
    removeStaleBuilds(buildId);
    if (cpu !== undefined)
        console.log(`native build cpu ${buildId} derived from the Vulkan build (${cpu.folderName})`);
    return gpu === "cpu" && cpu !== undefined ? cpu : record;
}

function main(): void {
    const { values } = parseArgs({
        options: { gpu: { type: "string", default: "cpu" }, "cuda-arch": { type: "string" }, force: { type: "boolean", default: false } }
    });
    const gpu = values.gpu as GpuBackend;
    if (!["cpu", "vulkan", "cuda"].includes(gpu))
        throw new BuildError(`--gpu must be cpu, vulkan or cuda, not ${values.gpu}`);
    buildNative(gpu, { force: values.force, cudaArch: values["cuda-arch"] });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    try {
        main();
    } catch (error) {
        if (!(error instanceof BuildError))
            throw error;
        console.error(`build:native: ${error.message}`);
        process.exit(1);
    }
}
