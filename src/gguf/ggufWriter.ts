import { randomBytes } from "node:crypto";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { endianness } from "node:os";
import { encodeBfloat16, encodeFloat16 } from "./floatEncoding.js";
import {
    GgmlType,
    GgufValueType,
    ggmlTensorByteLength,
    type GgufMetadata,
    type GgufMetadataValue,
    type GgufScalarType,
} from "./ggufTypes.js";

export const ggufDefaultAlignment = 32;

/** llama.cpp keeps tensor names in a 64-byte, NUL-terminated buffer (GGML_MAX_NAME). */
const maxTensorNameBytes = 63;
const maxDims = 4;
/** Float32Array sources are encoded in slices of this many elements, so F16/BF16 output never doubles memory. */
const encodeSliceElements = 1 << 16;

/**
 * Tensor payload:
 * - Float32Array: values, encoded to the tensor's type, which must be F32, F16 or BF16;
 * - Uint8Array (or Buffer): bytes already encoded in the tensor's type;
 * - an iterable (sync or async) of byte chunks: streamed, for tensors too large to hold in memory.
 */
export type GgufTensorData = Float32Array | Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface GgufTensor {
    readonly name: string;
    /** ggml order: ne0 (the contiguous dimension) first. A torch [out, in] weight has dims [in, out]. */
    readonly dims: readonly number[];
    readonly type: GgmlType;
    readonly data: GgufTensorData;
}

export interface GgufContent {
    readonly metadata: GgufMetadata;
    readonly tensors: readonly GgufTensor[];
    /** Data alignment; `general.alignment` is written only when it differs from 32. */
    readonly alignment?: number;
    /**
     * Flush the data to disk before the rename (default true), so a crash cannot leave a file with missing data under
     * the final name. Throwaway files (test fixtures) may skip it: it costs up to seconds on a busy disk.
     */
    readonly sync?: boolean;
}

interface PlannedTensor {
    readonly tensor: GgufTensor;
    readonly byteLength: number;
    readonly offset: number;
}

/**
 * Writes a GGUF v3 file. The file appears under `filePath` only when complete: it is written to a temporary
 * name beside the target and renamed at the end; on any error the temporary file is removed and the error rethrown.
 */
export async function writeGguf(filePath: string, content: GgufContent): Promise<void> {
    if (endianness() !== "LE")
        throw new Error("GGUF writing needs a little-endian host");
    const alignment = content.alignment ?? ggufDefaultAlignment;
    if (!Number.isSafeInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0 || alignment > 2 ** 30)
        throw new Error(`alignment must be a power of two, got ${alignment}`);
    // Validate and encode everything cheap before touching the file system.
    const planned = planTensors(content.tensors, alignment);
    const header = encodeHeader(content.metadata, planned, alignment);

    const tempPath = `${filePath}.partial-${process.pid}-${randomBytes(6).toString("hex")}`;
    let handle: FileHandle | undefined = await open(tempPath, "wx");
    try {
        await writeAll(handle, header);
        await writeAll(handle, Buffer.alloc(padding(header.length, alignment)));
        for (const { tensor, byteLength } of planned) {
            await writeTensorData(handle, tensor, byteLength);
            await writeAll(handle, Buffer.alloc(padding(byteLength, alignment)));
        }
        if (content.sync ?? true)
            await handle.datasync();
        const closing = handle;
        handle = undefined;
        await closing.close();
        await rename(tempPath, filePath);
    } catch (error) {
        await handle?.close().catch(() => undefined);
        await rm(tempPath, { force: true });
        throw error;
    }
}

function padding(length: number, alignment: number): number {
    return (alignment - (length % alignment)) % alignment;
}

function planTensors(tensors: readonly GgufTensor[], alignment: number): PlannedTensor[] {
    const names = new Set<string>();
    const planned: PlannedTensor[] = [];
    let offset = 0;
    for (const tensor of tensors) {
        const nameBytes = Buffer.byteLength(tensor.name, "utf8");
        if (nameBytes === 0 || nameBytes > maxTensorNameBytes)
            throw new Error(`tensor name "${tensor.name}" must be 1 to ${maxTensorNameBytes} bytes, got ${nameBytes}`);
        if (names.has(tensor.name))
            throw new Error(`duplicate tensor name "${tensor.name}"`);
        names.add(tensor.name);
        if (tensor.dims.length < 1 || tensor.dims.length > maxDims)
            throw new Error(`tensor "${tensor.name}" must have 1 to ${maxDims} dims, got ${tensor.dims.length}`);
        for (const dim of tensor.dims) {
            if (!Number.isSafeInteger(dim) || dim < 1)
                throw new Error(`tensor "${tensor.name}" has an invalid dim ${dim}`);
        }
        const byteLength = tensorByteLength(tensor);
        const elements = tensor.dims.reduce((product, dim) => product * dim, 1);
        if (tensor.data instanceof Float32Array) {
            if (tensor.type !== GgmlType.F32 && tensor.type !== GgmlType.F16 && tensor.type !== GgmlType.BF16)
                throw new Error(`tensor "${tensor.name}": Float32Array data can only be encoded as F32, F16 or BF16`);
            if (tensor.data.length !== elements)
                throw new Error(`tensor "${tensor.name}" has ${tensor.data.length} values, its dims need ${elements}`);
        } else if (tensor.data instanceof Uint8Array) {
            if (tensor.data.byteLength !== byteLength)
                throw new Error(`tensor "${tensor.name}" has ${tensor.data.byteLength} bytes, its dims and type need ${byteLength}`);
        }
        planned.push({ tensor, byteLength, offset });
        offset += byteLength + padding(byteLength, alignment);
    }
    return planned;
}

function tensorByteLength(tensor: GgufTensor): number {
    try {
        return ggmlTensorByteLength(tensor.type, tensor.dims);
    } catch (error) {
        throw new Error(`tensor "${tensor.name}": ${(error as Error).message}`, { cause: error });
    }
}

async function writeTensorData(handle: FileHandle, tensor: GgufTensor, byteLength: number): Promise<void> {
    const data = tensor.data;
    if (data instanceof Float32Array) {
        for (let start = 0; start < data.length; start += encodeSliceElements) {
            const slice = data.subarray(start, start + encodeSliceElements);
            const encoded = tensor.type === GgmlType.F32 ? slice
                : tensor.type === GgmlType.F16 ? encodeFloat16(slice)
                    : encodeBfloat16(slice);
            await writeAll(handle, new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength));
        }
        return;
    }
    if (data instanceof Uint8Array) {
        await writeAll(handle, data);
        return;
    }
    let written = 0;
    for await (const chunk of data) {
        if (!(chunk instanceof Uint8Array))
            throw new Error(`tensor "${tensor.name}": the data iterable yielded something other than bytes`);
        written += chunk.byteLength;
        if (written > byteLength)
            throw new Error(`tensor "${tensor.name}": the data iterable yielded more than the ${byteLength} bytes its dims and type need`);
        await writeAll(handle, chunk);
    }
    if (written !== byteLength)
        throw new Error(`tensor "${tensor.name}": the data iterable yielded ${written} bytes, its dims and type need ${byteLength}`);
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.byteLength) {
        const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done);
        done += bytesWritten;
    }
}

/** Collects little-endian fields of the header section. */
class ByteSink {
    private readonly chunks: Buffer[] = [];

    get bytes(): Buffer {
        return Buffer.concat(this.chunks);
    }

    private put(size: number, fill: (buffer: Buffer) => void): void {
        const buffer = Buffer.alloc(size);
        fill(buffer);
        this.chunks.push(buffer);
    }

    uint8(value: number): void { this.put(1, (b) => b.writeUInt8(value)); }
    int8(value: number): void { this.put(1, (b) => b.writeInt8(value)); }
    uint16(value: number): void { this.put(2, (b) => b.writeUInt16LE(value)); }
    int16(value: number): void { this.put(2, (b) => b.writeInt16LE(value)); }
    uint32(value: number): void { this.put(4, (b) => b.writeUInt32LE(value)); }
    int32(value: number): void { this.put(4, (b) => b.writeInt32LE(value)); }
    uint64(value: bigint): void { this.put(8, (b) => b.writeBigUInt64LE(value)); }
    int64(value: bigint): void { this.put(8, (b) => b.writeBigInt64LE(value)); }
    float32(value: number): void { this.put(4, (b) => b.writeFloatLE(value)); }
    float64(value: number): void { this.put(8, (b) => b.writeDoubleLE(value)); }
    bool(value: boolean): void { this.uint8(value ? 1 : 0); }

    string(value: string): void {
        const bytes = Buffer.from(value, "utf8");
        this.uint64(BigInt(bytes.length));
        this.chunks.push(bytes);
    }
}

function encodeHeader(metadata: GgufMetadata, tensors: readonly PlannedTensor[], alignment: number): Buffer {
    const entries = Object.entries(metadata);
    for (const [key] of entries) {
        if (key === "general.alignment")
            throw new Error("set the alignment with the `alignment` option, not as metadata");
        if (key.length === 0 || key.length > 65535 || !/^[\x20-\x7e]+$/.test(key))
            throw new Error(`metadata key "${key}" must be 1 to 65535 printable ASCII characters`);
    }
    if (alignment !== ggufDefaultAlignment)
        entries.push(["general.alignment", { type: "uint32", value: alignment }]);

    const sink = new ByteSink();
    sink.uint32(0x46554747); // "GGUF" read as a little-endian uint32
    sink.uint32(3);
    sink.uint64(BigInt(tensors.length));
    sink.uint64(BigInt(entries.length));
    for (const [key, value] of entries) {
        sink.string(key);
        try {
            writeMetadataValue(sink, value);
        } catch (error) {
            throw new Error(`metadata "${key}": ${(error as Error).message}`, { cause: error });
        }
    }
    for (const { tensor, offset } of tensors) {
        sink.string(tensor.name);
        sink.uint32(tensor.dims.length);
        for (const dim of tensor.dims)
            sink.uint64(BigInt(dim));
        sink.uint32(tensor.type);
        sink.uint64(BigInt(offset));
    }
    return sink.bytes;
}

function writeMetadataValue(sink: ByteSink, value: GgufMetadataValue): void {
    if (value.type === "array") {
        const itemType = value.itemType;
        if (!(itemType in GgufValueType) || (itemType as string) === "array")
            throw new Error(`unsupported array item type "${itemType}"`);
        sink.uint32(GgufValueType.array);
        sink.uint32(GgufValueType[itemType]);
        sink.uint64(BigInt(value.value.length));
        for (const item of value.value)
            writeScalar(sink, itemType, item);
        return;
    }
    if (!(value.type in GgufValueType))
        throw new Error(`unsupported value type "${value.type as string}"`);
    sink.uint32(GgufValueType[value.type]);
    writeScalar(sink, value.type, value.value);
}

type GgufIntegerType = Exclude<GgufScalarType, "float32" | "float64" | "bool" | "string">;

const integerRanges: Readonly<Record<GgufIntegerType, readonly [bigint, bigint]>> = {
    uint8: [0n, 0xffn],
    int8: [-0x80n, 0x7fn],
    uint16: [0n, 0xffffn],
    int16: [-0x8000n, 0x7fffn],
    uint32: [0n, 0xffffffffn],
    int32: [-0x80000000n, 0x7fffffffn],
    uint64: [0n, 0xffffffffffffffffn],
    int64: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

function checkedInteger(type: GgufIntegerType, value: unknown): bigint {
    let integer: bigint;
    if (typeof value === "bigint")
        integer = value;
    else if (typeof value === "number" && Number.isSafeInteger(value))
        integer = BigInt(value);
    else
        throw new Error(`${String(value)} is not a valid ${type}`);
    const [min, max] = integerRanges[type];
    if (integer < min || integer > max)
        throw new Error(`${integer} is out of range for ${type}`);
    return integer;
}

/** `value` is `unknown` because metadata may come from untyped sources (converted configs); each branch checks it. */
function writeScalar(sink: ByteSink, type: GgufScalarType, value: unknown): void {
    switch (type) {
        case "uint8": sink.uint8(Number(checkedInteger(type, value))); return;
        case "int8": sink.int8(Number(checkedInteger(type, value))); return;
        case "uint16": sink.uint16(Number(checkedInteger(type, value))); return;
        case "int16": sink.int16(Number(checkedInteger(type, value))); return;
        case "uint32": sink.uint32(Number(checkedInteger(type, value))); return;
        case "int32": sink.int32(Number(checkedInteger(type, value))); return;
        case "uint64": sink.uint64(checkedInteger(type, value)); return;
        case "int64": sink.int64(checkedInteger(type, value)); return;
        case "float32":
        case "float64":
            if (typeof value !== "number")
                throw new Error(`${String(value)} is not a number`);
            if (type === "float32")
                sink.float32(value);
            else
                sink.float64(value);
            return;
        case "bool":
            if (typeof value !== "boolean")
                throw new Error(`${String(value)} is not a boolean`);
            sink.bool(value);
            return;
        case "string":
            if (typeof value !== "string")
                throw new Error(`${String(value)} is not a string`);
            sink.string(value);
            return;
    }
}
