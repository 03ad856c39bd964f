import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";
import { type GpuBackend, nativeBuildId, tahCmakeOptions } from "./buildIdentity.js";
import type { TahBindings } from "./tahBindings.js";

export class NativeBuildError extends Error {}

export interface PatchedLlama {
    llama: Llama;
    bindings: TahBindings;
    gpu: GpuBackend;
}

export interface LoadPatchedLlamaOptions {
    /** "auto" takes the first patched build present among cuda, vulkan, cpu. */
    gpu: GpuBackend | "auto";
    logger?: (level: LlamaLogLevel, message: string) => void;
    logLevel?: LlamaLogLevel;
}

const autoOrder: readonly GpuBackend[] = ["cuda", "vulkan", "cpu"];

function bindingsOf(llama: Llama): Partial<TahBindings> {
    // node-llama-cpp keeps its addon exports on an @internal field; TaH's classes were registered there
    return (llama as unknown as { _bindings: Partial<TahBindings> })._bindings;
}

async function loadOne(gpu: GpuBackend, options: LoadPatchedLlamaOptions): Promise<PatchedLlama> {
    const llama = await getLlama({
        gpu: gpu === "cpu" ? false : gpu,
        build: "never",
        usePrebuiltBinaries: false,
        skipDownload: true,
        progressLogs: false,
        cmakeOptions: { ...tahCmakeOptions },
        logLevel: options.logLevel ?? LlamaLogLevel.warn,
        ...(options.logger !== undefined ? { logger: options.logger } : {})
    });
    const bindings = bindingsOf(llama);
    if (llama.buildType !== "localBuild" || typeof bindings.AddonTahContext !== "function" || typeof bindings.tahBuildInfo !== "function") {
        await llama.dispose();
        throw new NativeBuildError(`the ${gpu} binary that loaded is not TaH's patched build`);
    }
    const expected = nativeBuildId();
    const found = bindings.tahBuildInfo().buildId;
    if (found !== expected) {
        await llama.dispose();
        throw new NativeBuildError(`the patched ${gpu} build is stale (built from ${found}, sources are ${expected}): run \`npm run build:native -- --gpu ${gpu}\``);
    }
    return { llama, bindings: bindings as TahBindings, gpu };
}

/**
 * Loads node-llama-cpp with TaH's patched build and nothing else: never a prebuilt binary (which would lack the
 * patches), never a build from source at run time. Throws NativeBuildError with the command that fixes it.
 */
export async function loadPatchedLlama(options: LoadPatchedLlamaOptions): Promise<PatchedLlama> {
    if (options.gpu !== "auto")
        return loadOne(options.gpu, options).catch((error: unknown) => {
            if (error instanceof NativeBuildError)
                throw error;
            throw new NativeBuildError(`no patched ${options.gpu} build could be loaded (${String(error)}): run \`npm run build:native -- --gpu ${options.gpu}\``);
        });

    const failures: string[] = [];
    for (const gpu of autoOrder) {
        try {
            const patched = await loadOne(gpu, options);
            // a GPU build without a usable device would only compute on its CPU backend: prefer the CPU build then
            if (gpu !== "cpu" && (await patched.llama.getVramState()).total === 0) {
                await patched.llama.dispose();
                failures.push(`${gpu}: no device`);
                continue;
            }
            return patched;
        } catch (error) {
            failures.push(`${gpu}: ${error instanceof Error ? error.message : String(error)}`);
        }
    }
    throw new NativeBuildError(`no patched build could be loaded (${failures.join("; ")}): run \`npm run build:native\``);
}
