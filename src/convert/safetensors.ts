/**
 * Reads safetensors files (https://github.com/huggingface/safetensors#format): an 8-byte little-endian header
 * length, a JSON header, then the tensor bytes. Only the header is held in memory; tensor data is read on demand,
 * in chunks, so multi-gigabyte shards never sit in memory whole.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { openRegularFile } from "../engine/model/safeFiles.js";
import { EngineError } from "../engine/protocol/EngineError.js";
import type { FloatDtype } from "./floatData.js";
import { readJsonFile } from "./jsonFile.js";

export interface SafetensorsTensor {
    readonly name: string;
    /** The file holding the tensor. */
    readonly file: string;
    readonly dtype: FloatDtype;
    /** torch order: the last dimension is contiguous. */
    readonly shape: readonly number[];
    /** Absolute byte offset of the data in `file`. */
    readonly offset: number;
    readonly byteLength: number;
}

/** The safetensors format caps the header at 100 MB; a larger length means a corrupt file. */
const maxHeaderBytes = 100_000_000;

/** Every dtype the format defines, with its element size, so lengths can be checked before refusing a dtype. */
const knownDtypeSizes: Readonly<Record<string, number>> = {
    BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

const tensorEntrySchema = z.object({
    dtype: z.string(),
    shape: z.array(z.number().int().nonnegative()),
    data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

/** Reads and checks the header of one safetensors file: every tensor's dtype, shape and byte range. */
export async function readSafetensorsHeader(file: string): Promise<Map<string, SafetensorsTensor>> {
    const { handle, size } = await openRegularFile(file);
    let header: Buffer;
    try {
        if (size < 8)
            throw new EngineError("modelFile", `${file} is truncated: ${size} bytes, too short for a safetensors header`);
        const lengthBytes = Buffer.alloc(8);
        await handle.read(lengthBytes, 0, 8, 0);
        const headerLength = Number(lengthBytes.readBigUInt64LE(0));
        if (headerLength > maxHeaderBytes)
            throw new EngineError("modelFile", `${file} is not a safetensors file (header length ${headerLength} is over the format's 100 MB limit)`);
        if (8 + headerLength > size)
            throw new EngineError("modelFile", `${file} is truncated: its header needs ${8 + headerLength} bytes, the file has ${size}`);
        header = Buffer.alloc(headerLength);
        await handle.read(header, 0, headerLength, 8);
    } finally {
        await handle.close();
    }

    let json: unknown;
    try {
        json = JSON.parse(header.toString("utf8"));
    } catch (error) {
        throw new EngineError("modelFile", `${file} is not a safetensors file (its header is not JSON: ${(error as Error).message})`, { cause: error });
    }
    if (json === null || typeof json !== "object" || Array.isArray(json))
        throw new EngineError("modelFile", `${file} is not a safetensors file (its header is not a JSON object)`);

    const dataStart = 8 + header.length;
    const tensors = new Map<string, SafetensorsTensor>();
    for (const [name, value] of Object.entries(json)) {
        if (name === "__metadata__")
            continue;
        const entry = tensorEntrySchema.safeParse(value);
        if (!entry.success)
            throw new EngineError("modelFile", `${file}: the header entry of tensor "${name}" is malformed (${entry.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")})`);
        const { dtype, shape, data_offsets: [begin, end] } = entry.data;
        const elementSize = knownDtypeSizes[dtype];
        if (elementSize === undefined)
            throw new EngineError("modelFile", `${file}: tensor "${name}" has the unknown dtype "${dtype}"`);
        if (dtype !== "F32" && dtype !== "F16" && dtype !== "BF16")
            throw new EngineError("modelFile", `${file}: tensor "${name}" has dtype ${dtype}; the converter reads F32, F16 and BF16 tensors only`);
        const elements = shape.reduce((product, dim) => product * dim, 1);
        if (!Number.isSafeInteger(elements * elementSize) || end < begin || end - begin !== elements * elementSize)
            throw new EngineError("modelFile", `${file}: tensor "${name}" of shape [${shape.join(", ")}] and dtype ${dtype} needs ${elements * elementSize} bytes, its data_offsets [${begin}, ${end}] hold ${end - begin}`);
        if (dataStart + end > size)
            throw new EngineError("modelFile", `${file} is truncated: tensor "${name}" ends at byte ${dataStart + end}, the file has ${size}`);
        tensors.set(name, { name, file, dtype, shape, offset: dataStart + begin, byteLength: end - begin });
    }
    // the format lays tensors out one after another; two that share bytes are a crafted or corrupt header
    const byOffset = [...tensors.values()].filter((tensor) => tensor.byteLength > 0).sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < byOffset.length; i++)
        if (byOffset[i].offset < byOffset[i - 1].offset + byOffset[i - 1].byteLength)
            throw new EngineError("modelFile", `${file}: tensors "${byOffset[i - 1].name}" and "${byOffset[i].name}" overlap in the file`);
    return tensors;
}

const indexSchema = z.object({
    weight_map: z.record(z.string(), z.string()),
});

/** A shard name from an index: a plain file name in the checkpoint folder, never a path elsewhere. */
function checkedShardName(indexFile: string, shard: string): string {
    if (shard !== path.basename(shard) || shard === "." || shard === ".." || !shard.endsWith(".safetensors"))
        throw new EngineError("modelFile", `${indexFile}: the weight map names "${shard}", which is not a .safetensors file in the checkpoint folder`);
    return shard;
}

/**
 * The tensors of a checkpoint's weights: `<base>.safetensors`, or the shards that `<base>.safetensors.index.json`
 * lists (model-00001-of-00002.safetensors, …). Every tensor the index names must be in its shard.
 */
export async function readSafetensorsCheckpoint(dir: string, base = "model"): Promise<Map<string, SafetensorsTensor>> {
    const single = path.join(dir, `${base}.safetensors`);
    if (existsSync(single))
        return readSafetensorsHeader(single);
    const indexFile = path.join(dir, `${base}.safetensors.index.json`);
    if (!existsSync(indexFile)) {
        const legacy = ["pytorch_model.bin", "pytorch_model.bin.index.json"].find((name) => existsSync(path.join(dir, name)));
        throw new EngineError("modelFile", legacy !== undefined
            ? `${path.join(dir, legacy)}: the checkpoint stores its weights as PyTorch pickles; the converter reads safetensors only (${base}.safetensors or ${base}.safetensors.index.json)`
            : `${single} is missing (and there is no ${base}.safetensors.index.json for a sharded checkpoint)`);
    }
    const index = await readJsonFile(indexFile, indexSchema);
    const shards = new Map<string, Map<string, SafetensorsTensor>>();
    for (const shard of new Set(Object.values(index.weight_map)))
        shards.set(shard, await readSafetensorsHeader(path.join(dir, checkedShardName(indexFile, shard))));
    const tensors = new Map<string, SafetensorsTensor>();
    for (const [name, shard] of Object.entries(index.weight_map)) {
        const tensor = shards.get(shard)?.get(name);
        if (tensor === undefined)
            throw new EngineError("modelFile", `${path.join(dir, shard)}: tensor "${name}" is missing, though ${indexFile} places it there`);
        tensors.set(name, tensor);
    }
    return tensors;
}

/** Chunks of about this many bytes keep memory flat while streaming a tensor. */
const defaultChunkBytes = 16 << 20;

/**
 * The tensor's bytes in order, in chunks of at most `chunkBytes` (a multiple of 4, so chunks hold whole elements
 * of any float dtype). Each chunk is a fresh buffer the consumer may keep.
 */
export async function* tensorChunks(tensor: SafetensorsTensor, chunkBytes = defaultChunkBytes): AsyncGenerator<Uint8Array> {
    const step = Math.max(4, chunkBytes - (chunkBytes % 4));
    const { handle } = await openRegularFile(tensor.file);
    try {
        for (let done = 0; done < tensor.byteLength; done += step) {
            const length = Math.min(step, tensor.byteLength - done);
            const chunk = new Uint8Array(length);
            let filled = 0;
            while (filled < length) {
                const { bytesRead } = await handle.read(chunk, filled, length - filled, tensor.offset + done + filled);
                if (bytesRead === 0)
                    throw new EngineError("modelFile", `${tensor.file} is truncated: tensor "${tensor.name}" ends early (the file changed while it was read?)`);
                filled += bytesRead;
            }
            yield chunk;
        }
    } finally {
        await handle.close();
    }
}
