/**
 * The memory a loaded model takes, as the Models view and the status bar show it: its weights (llama.cpp's own count
 * of the backbone's tensors, plus for a TaH model the LoRA adapter and the decider files) and the KV cache of the
 * context a role gives it (every cell the context reserves, at its K/V type). Compute buffers are left out: they are
 * llama.cpp's scheduler's, shared, and not reported by it.
 */
import { statSync } from "node:fs";
import { kvBytesPerCell, type KvType } from "../../models/kvCache.js";
import type { TahContext } from "../evaluator/TahContext.js";
import { tahFiles } from "../model/modelFiles.js";
import type { TahModel } from "../model/TahModel.js";
import type { ModelMemory } from "../protocol/engineProtocol.js";

function weightsBytes(model: TahModel): number {
    return model.llamaModel.size + tahFiles(model.files).reduce((sum, file) => sum + statSync(file).size, 0);
}

/** A value of node-llama-cpp's nested metadata section ("attention.head_count" → section.attention.head_count). */
function nestedNumber(section: unknown, key: string): number | undefined {
    let value = section;
    for (const part of key.split("."))
        value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[part] : undefined;
    return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Bytes of K and V per KV cell of a context on `model`; 0 when its metadata does not say. */
export function modelKvBytesPerCell(model: TahModel, kvType: KvType): number {
    const metadata = model.llamaModel.fileInfo.metadata as unknown as Record<string, unknown>;
    const section = metadata[model.llamaModel.fileInfo.metadata.general.architecture];
    return kvBytesPerCell((key) => nestedNumber(section, key), kvType);
}

export function modelMemory(model: TahModel, context: TahContext): ModelMemory {
    return {
        weightsBytes: weightsBytes(model),
        kvCacheBytes: context.kvCells * modelKvBytesPerCell(model, context.options.kvType),
    };
}
