/**
 * The memory a loaded model takes, as the Models view and the status bar show it: its weights (llama.cpp's own count
 * of the backbone's tensors, plus for a TaH model the LoRA adapter and the decider files) and the KV cache of the
 * context a role gives it (every cell the context reserves, at its K/V type). Compute buffers are left out: they are
 * llama.cpp's scheduler's, shared, and not reported by it.
 */
import { statSync } from "node:fs";
import type { TahContext } from "../evaluator/TahContext.js";
import type { TahModel } from "../model/TahModel.js";
import type { ModelMemory } from "../protocol/engineProtocol.js";

const bytesPerKvElement = { f16: 2, f32: 4 } as const;

function metadataNumber(section: Record<string, unknown> | undefined, key: string): number | undefined {
    let value: unknown = section;
    for (const part of key.split("."))
        value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[part] : undefined;
    return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Bytes of K and V per KV cell over all layers, from the GGUF's attention metadata. */
export function kvBytesPerCell(metadata: Record<string, unknown> | undefined, kvType: keyof typeof bytesPerKvElement): number {
    const layers = metadataNumber(metadata, "block_count") ?? 0;
    const heads = metadataNumber(metadata, "attention.head_count") ?? 1;
    const kvHeads = metadataNumber(metadata, "attention.head_count_kv") ?? heads;
    const embedding = metadataNumber(metadata, "embedding_length") ?? 0;
    const keyLength = metadataNumber(metadata, "attention.key_length") ?? embedding / heads;
    const valueLength = metadataNumber(metadata, "attention.value_length") ?? keyLength;
    return layers * kvHeads * (keyLength + valueLength) * bytesPerKvElement[kvType];
}

export function weightsBytes(model: TahModel): number {
    const extra = model.files.kind === "tah" ? statSync(model.files.lora).size + statSync(model.files.decider).size : 0;
    return model.llamaModel.size + extra;
}

export function modelMemory(model: TahModel, context: TahContext): ModelMemory {
    const metadata = model.llamaModel.fileInfo.metadata as unknown as Record<string, Record<string, unknown> | undefined>;
    const architecture = model.llamaModel.fileInfo.metadata.general.architecture;
    return {
        weightsBytes: weightsBytes(model),
        kvCacheBytes: context.kvCells * kvBytesPerCell(metadata[architecture], context.options.kvType),
    };
}
