/**
 * The curated models of "TaH: Get a Model…" and `tah pull`: published TaH checkpoints (converted here) and plain
 * GGUF fill-in-the-middle code models (used as they are). Sizes and memory needs are computed from each entry's
 * shape by memoryEstimate.ts, so they follow the chosen type. `verified` names, per field, the source that field was
 * checked against; a field missing there was not verified and comes from the model family's public configs.
 */
import type { OutputTypeName } from "../convert/outputTypes.js";
import { estimateMemory, parameterCount, type MemoryEstimate, type ModelShape, type TahShape } from "./memoryEstimate.js";
import type { ModelRole } from "./modelRoles.js";
import type { RepoKind } from "./repoFiles.js";

export type VerifiedField = "repo" | "files" | "shape" | "licence";

export interface CatalogueEntry {
    /** Short, stable: what settings and the CLI may refer to. */
    readonly id: string;
    readonly title: string;
    readonly repo: string;
    readonly revision: string;
    readonly kind: RepoKind;
    /** GGUF entries: the file(s) to fetch, as `--include` globs. */
    readonly include?: readonly string[];
    /** GGUF entries: the weight type of the file. */
    readonly ggufType?: OutputTypeName;
    readonly shape: ModelShape;
    readonly tah?: TahShape;
    /** What it is made for (file analysis follows chat). */
    readonly roles: readonly Exclude<ModelRole, "analysis">[];
    readonly goodFor: string;
    readonly licence: string;
    /** Why the engine cannot run it yet; absent when it can. */
    readonly notRunnable?: string;
    readonly verified: Readonly<Partial<Record<VerifiedField, string>>>;
}

export const qwen3_1_7b: ModelShape = { nLayer: 28, nEmbd: 2048, nFf: 6144, nHead: 16, nHeadKv: 8, headDim: 128, vocabSize: 151936, tiedEmbeddings: true };
/** No TaH 0.6B checkpoint is published (the TaH README's news names TaH-plus-1.7B only); kept for the estimates' tests. */
export const qwen3_0_6b: ModelShape = { nLayer: 28, nEmbd: 1024, nFf: 3072, nHead: 16, nHeadKv: 8, headDim: 128, vocabSize: 151936, tiedEmbeddings: true };
/** TaH2 has no LoRA; its updater and decider are small MLPs that the estimate's decider allowance stands for. */
export const tah2Shape: TahShape = { loraRank: 0 };
const qwenShapeSource = "tah-inference.md §1.1 (Qwen3 shapes, from the TaH repository's recipes)";
const tahLayoutSource = "tah-inference.md §1.2 (the TaH repository's checkpoint layout)";
const llamaVscodeSource = "llama.vscode README (llama-server -hf ggml-org/Qwen2.5-Coder-*-Q8_0-GGUF)";
/** The hub's own "Files and versions" page of the repository (found through the docs search, December 2026). */
const hubTreeSource = (repo: string, file: string, size: string, licence: string): string => `huggingface.co/${repo}/tree/main: ${file} (${size}, LFS), licence ${licence}`;

export const catalogue: readonly CatalogueEntry[] = [
    {
        id: "tah-plus-1.7b",
        title: "TaH+ 1.7B",
        repo: "nics-efc/TaH-plus-1.7B",
        revision: "main",
        kind: "tah",
        shape: qwen3_1_7b,
        tah: { loraRank: 32 },
        roles: ["chat"],
        goodFor: "chat and reasoning (math, code, questions) with a latent second pass on hard tokens; not trained for fill-in-the-middle",
        licence: "unstated (Qwen3 base: Apache-2.0)",
        verified: { repo: "thu-nics/TaH README (News, 2025/11: the TaH-plus-1.7B checkpoint, finetuned from Qwen3-1.7B-Base)", files: tahLayoutSource, shape: qwenShapeSource },
    },
    {
        id: "tah2-1.7b-max2",
        title: "TaH2 1.7B (max 2 depths)",
        repo: "nics-efc/TaH2-1.7B-max2",
        revision: "main",
        kind: "tah2",
        shape: qwen3_1_7b,
        roles: ["chat"],
        goodFor: "chat and reasoning with TaH2's adaptive depth",
        licence: "unstated (Qwen3 base: Apache-2.0)",
        tah: tah2Shape,
        verified: {
            repo: "thu-nics/TaH README, TaH2 section (checkpoint table and `hf download nics-efc/TaH2-1.7B-max2`)",
            files: "tah2-inference.md §1.1 (upstream's save_model_tp and minisgl loader; the hub's file list was not retrievable)",
            shape: "tah2-inference.md §1.2, §1.4 (Qwen3-1.7B-Base, max_iter 2, updater and decider width 2048)",
        },
    },
    {
        id: "qwen2.5-coder-0.5b-q8_0",
        title: "Qwen2.5-Coder 0.5B Q8_0",
        repo: "ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF",
        revision: "main",
        kind: "gguf",
        include: ["qwen2.5-coder-0.5b-q8_0.gguf"],
        ggufType: "q8_0",
        shape: { nLayer: 24, nEmbd: 896, nFf: 4864, nHead: 14, nHeadKv: 2, headDim: 64, vocabSize: 151936, tiedEmbeddings: true },
        roles: ["completion"],
        goodFor: "ghost text on any CPU: fill-in-the-middle, fastest",
        licence: "Apache-2.0",
        verified: { repo: llamaVscodeSource, files: "resolve/main/qwen2.5-coder-0.5b-q8_0.gguf in llama.cpp's and others' download scripts" },
    },
    {
        id: "qwen2.5-coder-1.5b-q8_0",
        title: "Qwen2.5-Coder 1.5B Q8_0",
        repo: "ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF",
        revision: "main",
        kind: "gguf",
        include: ["qwen2.5-coder-1.5b-q8_0.gguf"],
        ggufType: "q8_0",
        shape: { nLayer: 28, nEmbd: 1536, nFf: 8960, nHead: 12, nHeadKv: 2, headDim: 128, vocabSize: 151936, tiedEmbeddings: true },
        roles: ["completion"],
        goodFor: "ghost text: fill-in-the-middle; llama.vscode's choice for CPUs and GPUs under 8 GB",
        licence: "Apache-2.0",
        verified: { repo: llamaVscodeSource, files: hubTreeSource("ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF", "qwen2.5-coder-1.5b-q8_0.gguf", "1.65 GB", "apache-2.0"), licence: "the hub page's licence tag" },
    },
    {
        id: "qwen2.5-coder-3b-q8_0",
        title: "Qwen2.5-Coder 3B Q8_0",
        repo: "ggml-org/Qwen2.5-Coder-3B-Q8_0-GGUF",
        revision: "main",
        kind: "gguf",
        include: ["qwen2.5-coder-3b-q8_0.gguf"],
        ggufType: "q8_0",
        shape: { nLayer: 36, nEmbd: 2048, nFf: 11008, nHead: 16, nHeadKv: 2, headDim: 128, vocabSize: 151936, tiedEmbeddings: true },
        roles: ["completion"],
        goodFor: "ghost text: fill-in-the-middle; llama.vscode's choice for GPUs under 16 GB",
        licence: "Qwen Research License (non-commercial)",
        verified: { repo: llamaVscodeSource, files: hubTreeSource("ggml-org/Qwen2.5-Coder-3B-Q8_0-GGUF", "qwen2.5-coder-3b-q8_0.gguf", "3.29 GB", "qwen-research"), licence: "the hub page's licence tag" },
    },
    {
        id: "qwen2.5-coder-7b-q8_0",
        title: "Qwen2.5-Coder 7B Q8_0",
        repo: "ggml-org/Qwen2.5-Coder-7B-Q8_0-GGUF",
        revision: "main",
        kind: "gguf",
        include: ["qwen2.5-coder-7b-q8_0.gguf"],
        ggufType: "q8_0",
        shape: { nLayer: 28, nEmbd: 3584, nFf: 18944, nHead: 28, nHeadKv: 4, headDim: 128, vocabSize: 152064, tiedEmbeddings: false },
        roles: ["completion"],
        goodFor: "ghost text: fill-in-the-middle, best quality; llama.vscode's choice for GPUs with more than 16 GB",
        licence: "Apache-2.0",
        verified: { repo: llamaVscodeSource, files: hubTreeSource("ggml-org/Qwen2.5-Coder-7B-Q8_0-GGUF", "qwen2.5-coder-7b-q8_0.gguf", "8.1 GB", "apache-2.0"), licence: "the hub page's licence tag" },
    },
];

export function catalogueEntry(id: string): CatalogueEntry | undefined {
    return catalogue.find((entry) => entry.id === id);
}

/** The entry for a repository id (case-insensitive, as the hub treats names). */
export function catalogueEntryForRepo(repo: string): CatalogueEntry | undefined {
    return catalogue.find((entry) => entry.repo.toLowerCase() === repo.toLowerCase());
}

export interface EntryFigures {
    /** The type the model runs in: the GGUF's own, or the conversion's. */
    readonly type: OutputTypeName;
    readonly parameters: number;
    /** The installed model's size (approximately the download for a GGUF). */
    readonly sizeOnDiskBytes: number;
    readonly memory: MemoryEstimate;
}

/** Size on disk and memory need of an entry at a type (a TaH checkpoint's conversion type; a GGUF has its own). */
export function entryFigures(entry: CatalogueEntry, type?: OutputTypeName, contextTokens?: number): EntryFigures {
    const chosen = entry.ggufType ?? type ?? "q8_0";
    const memory = estimateMemory(entry.shape, { type: chosen, ...(entry.tah !== undefined ? { tah: entry.tah } : {}), ...(contextTokens !== undefined ? { contextTokens } : {}) });
    return { type: chosen, parameters: parameterCount(entry.shape), sizeOnDiskBytes: memory.weightsBytes, memory };
}
