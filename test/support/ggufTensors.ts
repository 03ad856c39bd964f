/** Reads a GGUF file's tensors (type, dims, bytes) and metadata values for comparisons in tests. */
import { readFile } from "node:fs/promises";
import { readGgufFileInfo } from "node-llama-cpp";
import { ggmlTensorByteLength } from "../../src/gguf/ggufTypes.js";

export interface GgufTensorBytes {
    readonly type: number;
    readonly dims: readonly number[];
    readonly bytes: Buffer;
}

export interface GgufFileContents {
    readonly tensors: Map<string, GgufTensorBytes>;
    /** A metadata value by its dotted key. */
    value(key: string): unknown;
}

export async function readGgufContents(file: string): Promise<GgufFileContents> {
    const info = await readGgufFileInfo(file, { logWarnings: false });
    const data = await readFile(file);
    const tensors = new Map<string, GgufTensorBytes>();
    for (const tensor of info.tensorInfo ?? []) {
        const dims = tensor.dimensions.map(Number);
        const start = Number(tensor.fileOffset);
        tensors.set(tensor.name, { type: tensor.ggmlType, dims, bytes: data.subarray(start, start + ggmlTensorByteLength(tensor.ggmlType, dims)) });
    }
    return {
        tensors,
        value: (key) => key.split(".").reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], info.metadata),
    };
}
