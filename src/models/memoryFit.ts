/**
 * Whether the models the settings name fit this machine's memory, checked before they are loaded (the user is warned,
 * not stopped): each distinct file's weights (its size on disk: llama.cpp maps it), each role's KV cache from the
 * backbone's attention metadata, and the engine's own runtime, against the share of memory a model may take.
 */
import { stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { resolveModelFiles, tahFiles } from "../engine/model/modelFiles.js";
import { architectureNumber, readGgufHeader } from "./ggufHeader.js";
import { kvBytesPerCell } from "./kvCache.js";
import { memoryShareForModel } from "./memoryEstimate.js";

/** The engine's layout (EngineService, TahContext): chat and file analysis share one context, completion has one. */
const sequencesPerRole = { chat: 2, completion: 1 } as const;
/** TahContext's default depth-1 headroom: a TaH context keeps half as many cells again for second-pass tokens. */
const tahIterationHeadroom = 0.5;
/** Node, llama.cpp's state and compute buffers, the tokenizer. */
const runtimeBytes = 512 * 2 ** 20;

export interface MemoryFit {
    readonly totalBytes: number;
    readonly budgetBytes: number;
    readonly fits: boolean;
}

interface ModelCost {
    readonly weightsBytes: number;
    readonly kvBytesPerCell: number;
    readonly tah: boolean;
}

async function modelCost(modelPath: string): Promise<ModelCost> {
    const files = resolveModelFiles(modelPath);
    const parts = [files.backbone, ...tahFiles(files)];
    const sizes = await Promise.all(parts.map(async (file) => (await stat(file)).size));
    const header = await readGgufHeader(files.backbone);
    return {
        weightsBytes: sizes.reduce((sum, size) => sum + size, 0),
        kvBytesPerCell: kvBytesPerCell((key) => architectureNumber(header, key), "f16"),
        tah: files.kind === "tah",
    };
}

/** `completion` null: the chat model serves completion too (loaded once, a context of its own). */
export async function checkMemoryFit(models: { chat: string; completion: string | null }, contextSize: number, totalMemoryBytes = os.totalmem()): Promise<MemoryFit> {
    const chat = await modelCost(models.chat);
    const shared = models.completion === null || path.resolve(models.completion) === path.resolve(models.chat);
    const completion = shared ? chat : await modelCost(models.completion ?? models.chat);
    const kv = (cost: ModelCost, sequences: number): number => sequences * Math.ceil(contextSize * (1 + (cost.tah ? tahIterationHeadroom : 0))) * cost.kvBytesPerCell;
    const totalBytes = chat.weightsBytes + (shared ? 0 : completion.weightsBytes)
        + kv(chat, sequencesPerRole.chat) + kv(completion, sequencesPerRole.completion) + runtimeBytes;
    const budgetBytes = totalMemoryBytes * memoryShareForModel;
    return { totalBytes, budgetBytes, fits: totalBytes <= budgetBytes };
}
