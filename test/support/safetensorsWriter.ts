/**
 * Writes safetensors files as Hugging Face's `safetensors` library does: an 8-byte little-endian header length, a
 * JSON header padded with spaces to a multiple of 8, then the tensors back to back in header order. Sharded
 * checkpoints get `model-0000i-of-0000n.safetensors` files and `model.safetensors.index.json`.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { encodeBfloat16, encodeFloat16 } from "../../src/gguf/floatEncoding.js";

export interface SafetensorsTensorSpec {
    readonly name: string;
    /** Any dtype string; F32, F16 and BF16 encode Float32Array values, others need raw bytes. */
    readonly dtype: string;
    readonly shape: readonly number[];
    readonly data: Float32Array | Uint8Array;
}

function encode(spec: SafetensorsTensorSpec): Uint8Array {
    if (spec.data instanceof Uint8Array)
        return spec.data;
    const encoded = spec.dtype === "F32" ? spec.data : spec.dtype === "F16" ? encodeFloat16(spec.data) : spec.dtype === "BF16" ? encodeBfloat16(spec.data) : undefined;
    if (encoded === undefined)
        throw new Error(`tensor ${spec.name}: give raw bytes for dtype ${spec.dtype}`);
    return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}

/** The file's bytes. */
export function safetensorsBytes(tensors: readonly SafetensorsTensorSpec[], metadata: Record<string, string> = { format: "pt" }): Buffer {
    const header: Record<string, unknown> = { __metadata__: metadata };
    const payloads: Uint8Array[] = [];
    let offset = 0;
    for (const tensor of tensors) {
        const bytes = encode(tensor);
        header[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.byteLength] };
        payloads.push(bytes);
        offset += bytes.byteLength;
    }
    let json = JSON.stringify(header);
    json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    return Buffer.concat([length, Buffer.from(json), ...payloads]);
}

export async function writeSafetensors(file: string, tensors: readonly SafetensorsTensorSpec[]): Promise<void> {
    await writeFile(file, safetensorsBytes(tensors));
}

/** Splits the tensors in order over `shards` files and writes the index, as transformers' save_pretrained does. */
export async function writeShardedSafetensors(dir: string, tensors: readonly SafetensorsTensorSpec[], shards: number, base = "model"): Promise<string[]> {
    const perShard = Math.ceil(tensors.length / shards);
    const weightMap: Record<string, string> = {};
    const files: string[] = [];
    let totalSize = 0;
    for (let s = 0; s < shards; s++) {
        const file = `${base}-${String(s + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
        const part = tensors.slice(s * perShard, (s + 1) * perShard);
        for (const tensor of part) {
            weightMap[tensor.name] = file;
            totalSize += encode(tensor).byteLength;
        }
        await writeSafetensors(path.join(dir, file), part);
        files.push(file);
    }
    const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
    await writeFile(path.join(dir, `${base}.safetensors.index.json`), `${JSON.stringify(index, null, 2)}\n`);
    return files;
}
