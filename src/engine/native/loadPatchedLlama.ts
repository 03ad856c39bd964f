import { readdirSync } from "node:fs";
import path from "node:path";
import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";
import { EngineError } from "../protocol/EngineError.js";
import { type GpuBackend, nativeBuildId, tahCmakeOptions } from "./buildIdentity.js";
import { type BuildRecord, installedBuilds } from "./installedBuilds.js";
import type { NativeBackendInfo, TahBindings } from "./tahBindings.js";

export interface PatchedLlama {
    llama: Llama;
    bindings: TahBindings;
    /** What the caller asked for: a process that fell back to the CPU still answers a request for the same. */
    requested: GpuBackend | "auto";
    /** The backend that computes. A GPU build whose GPU cannot start computes on its CPU backend: "cpu" then. */
    gpu: GpuBackend;
    /** The CPU variant ggml chose for this CPU ("haswell", "sandybridge", …). */
    cpuVariant: string;
    /** One line for logs and `tah trace`: the backend, its device, the CPU variant, and why a GPU was not used. */
    description: string;
}

export interface LoadPatchedLlamaOptions {
    /** "auto" takes the first GPU among cuda, vulkan that has a device, else the CPU. */
    gpu: GpuBackend | "auto";
    /** When the GPU asked for cannot start: compute on the CPU and say why (default), or throw gpuUnavailable. */
    fallbackToCpu?: boolean;
    logger?: (level: LlamaLogLevel, message: string) => void;
    logLevel?: LlamaLogLevel;
}

/** ggml's backend name for each GPU kind. */
const ggmlBackendName: Record<Exclude<GpuBackend, "cpu">, string> = { vulkan: "Vulkan", cuda: "CUDA" };

const reinstall = "reinstall the TaH Copilot extension (or install the VSIX for this platform)";

function bindingsOf(llama: Llama): Partial<TahBindings> {
    // node-llama-cpp keeps its addon exports on an @internal field; TaH's classes were registered there
    return (llama as unknown as { _bindings: Partial<TahBindings> })._bindings;
}

function message(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}

/** The build kinds to try for a request, best first; a GPU build carries the CPU variants too. */
function kindsFor(request: GpuBackend | "auto", fallbackToCpu: boolean): GpuBackend[] {
    if (request === "auto")
        return ["cuda", "vulkan", "cpu"];
    return request === "cpu" || !fallbackToCpu ? [request] : [request, "cpu"];
}

/** Why a loaded GPU build offers no device of its kind, in words a user can act on. */
function whyNoDevice(kind: Exclude<GpuBackend, "cpu">, info: NativeBackendInfo, record: BuildRecord, folder: string): string {
    const backend = ggmlBackendName[kind];
    const shipped = readdirSync(path.join(folder, "Release")).some((file) => file.includes(`ggml-${kind}`));
    if (!shipped)
        return `the ${record.folderName} build has no ${backend} backend`;
    if (kind === "vulkan" && !info.vulkanLoader)
        return "no Vulkan loader (libvulkan.so.1) on this system; install your GPU's Vulkan driver";
    if (!info.backends.includes(backend))
        return `the ${backend} driver failed to start (see the log above); update the GPU driver`;
    return kind === "vulkan"
        ? "no Vulkan GPU found (software renderers such as llvmpipe count only when GGML_VK_VISIBLE_DEVICES names them)"
        : `no ${backend} device found`;
}

async function loadKind(kind: GpuBackend, options: LoadPatchedLlamaOptions): Promise<Llama> {
    return getLlama({
        gpu: kind === "cpu" ? false : kind,
        build: "never",
        usePrebuiltBinaries: false,
        skipDownload: true,
        progressLogs: false,
        cmakeOptions: { ...tahCmakeOptions },
        logLevel: options.logLevel ?? LlamaLogLevel.warn,
        ...(options.logger !== undefined ? { logger: options.logger } : {})
    });
}

/** Checks that what loaded is our build of this version; disposes it and throws nativeBuild otherwise. */
async function checkIdentity(llama: Llama, kind: GpuBackend): Promise<TahBindings> {
    const bindings = bindingsOf(llama);
    const problem = llama.buildType !== "localBuild" || typeof bindings.AddonTahContext !== "function" || typeof bindings.tahBackendInfo !== "function"
        ? `the ${kind} binary that loaded is not TaH's patched build`
        : bindings.tahBuildInfo?.().buildId !== nativeBuildId()
            ? `the ${kind} native build was made from other sources (build ${bindings.tahBuildInfo?.().buildId}, expected ${nativeBuildId()})`
            : undefined;
    if (problem !== undefined) {
        await llama.dispose();
        throw new EngineError("nativeBuild", `${problem}; ${reinstall}`);
    }
    return bindings as TahBindings;
}

/**
 * Loads node-llama-cpp with TaH's patched build and nothing else: never a prebuilt binary (which would lack the
 * patches), never a build at run time. A GPU build is used when its GPU starts; otherwise the engine computes on
 * the CPU and logs one line that says why. Throws EngineError: nativeBuild (no usable build in this installation),
 * unsupportedCpu (no CPU variant runs on this CPU), gpuUnavailable (only with fallbackToCpu false).
 */
export async function loadPatchedLlama(options: LoadPatchedLlamaOptions): Promise<PatchedLlama> {
    const expected = nativeBuildId();
    const builds = installedBuilds();
    const fallbackToCpu = options.fallbackToCpu ?? true;
    const log = (level: LlamaLogLevel, line: string): void => options.logger?.(level, line);
    const skipped: string[] = [];
    const kinds = kindsFor(options.gpu, fallbackToCpu);

    for (const [index, kind] of kinds.entries()) {
        const build = builds.find((entry) => entry.record.gpu === kind && entry.record.buildId === expected);
        if (build === undefined) {
            const stale = builds.find((entry) => entry.record.gpu === kind);
            // "auto" names only the kinds this installation has
            if (stale !== undefined || options.gpu !== "auto")
                skipped.push(`${kind}: ${stale === undefined ? "not in this installation" : `a build of other sources (${stale.record.buildId})`}`);
            continue;
        }
        let llama: Llama;
        try {
            llama = await loadKind(kind, options);
        } catch (error) {
            // node-llama-cpp refuses a GPU build whose backend does not start on a system other than the builder's
            skipped.push(`${kind}: ${message(error)}`);
            continue;
        }
        const bindings = await checkIdentity(llama, kind);
        const info = bindings.tahBackendInfo();
        if (info.cpuVariant === undefined) {
            await llama.dispose();
            throw new EngineError("unsupportedCpu", "none of the engine's CPU variants runs on this processor (x86-64 needs at least SSE4.2 for most of them; the baseline variant failed to load too)");
        }
        const variant = `cpu variant ${info.cpuVariant}`;
        if (kind === "cpu") {
            const why = skipped.length > 0 ? ` (${skipped.join("; ")})` : "";
            const description = `cpu, ${variant}${why}`;
            log(skipped.length > 0 && options.gpu !== "cpu" ? LlamaLogLevel.warn : LlamaLogLevel.info, `engine backend: ${description}`);
            return { llama, bindings, requested: options.gpu, gpu: "cpu", cpuVariant: info.cpuVariant, description };
        }
        const device = info.devices.find((entry) => entry.backend === ggmlBackendName[kind] && entry.type !== "cpu");
        if (device !== undefined) {
            const description = `${kind} (${device.description}), ${variant}`;
            log(LlamaLogLevel.info, `engine backend: ${description}`);
            return { llama, bindings, requested: options.gpu, gpu: kind, cpuVariant: info.cpuVariant, description };
        }
        const reason = whyNoDevice(kind, info, build.record, build.folder);
        if (!fallbackToCpu && options.gpu !== "auto") {
            await llama.dispose();
            throw new EngineError("gpuUnavailable", `${ggmlBackendName[kind]} cannot be used: ${reason}`);
        }
        // a later GPU kind may have a device; else this build's CPU backend is the CPU build's, variants and all
        if (kinds.slice(index + 1).some((next) => next !== "cpu" && builds.some((entry) => entry.record.gpu === next && entry.record.buildId === expected))) {
            await llama.dispose();
            skipped.push(`${kind}: ${reason}`);
            continue;
        }
        const description = `cpu, ${variant} (${[...skipped, `${kind}: ${reason}`].join("; ")})`;
        log(options.gpu === "auto" ? LlamaLogLevel.info : LlamaLogLevel.warn, `engine backend: ${description}`);
        return { llama, bindings, requested: options.gpu, gpu: "cpu", cpuVariant: info.cpuVariant, description };
    }
    if (!fallbackToCpu && options.gpu !== "auto" && options.gpu !== "cpu")
        throw new EngineError("gpuUnavailable", `${options.gpu} cannot be used: ${skipped.join("; ")}`);
    throw new EngineError("nativeBuild", `the engine's native build for this platform (${process.platform}-${process.arch}) cannot be loaded (${skipped.join("; ")}); ${reinstall}`);
}
