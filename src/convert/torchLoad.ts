/**
 * `torch.load(file, weights_only=True)` for a dict of float tensors, without Python and without running anything
 * from the file: the pickle goes through the restricted unpickler, storages are read from the zip.
 */
import { decodeFloats, type FloatDtype } from "./floatData.js";
import { EngineError } from "../engine/protocol/EngineError.js";
import { type PickleValue, unpickle } from "./restrictedUnpickler.js";
import { type TorchStorage, type TorchTensor, torchDtypeByteSize, torchUnpicklerOptions } from "./torchPickleGlobals.js";
import { openTorchArchive } from "./torchZip.js";

export interface TorchFile {
    readonly file: string;
    readonly root: PickleValue;
    /** A tensor's values in row-major order as float32; float32, float16 and bfloat16 tensors only. */
    values(tensor: TorchTensor, label: string): Float32Array;
}

/** The pickle of a state dict is small; a larger one is not the file we expect. */
const maxPickleBytes = 64 << 20;

const floatDtypes: Readonly<Record<string, FloatDtype>> = { float32: "F32", float16: "F16", bfloat16: "BF16" };

/** Copies a strided view into a dense row-major array (its size was bounded by its storage's when it was read). */
function gather(data: Float32Array, tensor: TorchTensor): Float32Array {
    const { shape, stride, offset } = tensor;
    const count = tensor.numel;
    const contiguous = shape.every((_, i) => shape[i] === 1 || stride[i] === shape.slice(i + 1).reduce((product, dim) => product * dim, 1));
    if (contiguous)
        return data.slice(offset, offset + count);
    const out = new Float32Array(count);
    const index = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < count; i++) {
        out[i] = data[index.reduce((at, value, d) => at + value * stride[d], offset)];
        for (let d = shape.length - 1; d >= 0; d--) {
            if (++index[d] < shape[d])
                break;
            index[d] = 0;
        }
    }
    return out;
}

/**
 * Reads the pickle, then checks every storage's declared size against its record in the archive before a byte of it
 * is read, and their total against `maxStoredBytes` (what the caller's expected shapes need); storages are decoded
 * only when a tensor of them is asked for, so a caller checks shapes first.
 */
export async function loadTorchFile(file: string, maxStoredBytes: number): Promise<TorchFile> {
    const archive = await openTorchArchive(file);
    const stored = new Map<string, Buffer>();
    const decoded = new Map<string, Float32Array>();
    let root: PickleValue;
    try {
        if (archive.has("byteorder")) {
            const order = (await archive.read("byteorder", 16)).toString("latin1").trim();
            if (order !== "little")
                throw new EngineError("modelFile", `${file} was saved on a ${order}-endian machine; the converter reads little-endian files only`);
        }
        const storages = new Map<string, TorchStorage>();
        root = unpickle(await archive.read("data.pkl", maxPickleBytes), torchUnpicklerOptions(file, storages));
        let total = 0;
        for (const storage of storages.values()) {
            if (floatDtypes[storage.dtype] === undefined)
                continue; // refused when a tensor of it is read, where the message can name the tensor
            const expected = storage.numel * torchDtypeByteSize[storage.dtype];
            const recorded = archive.sizeOf(`data/${storage.key}`);
            if (recorded === undefined)
                throw new EngineError("modelFile", `${file}: the record ${archive.prefix}data/${storage.key} is missing`);
            if (recorded !== expected)
                throw new EngineError("modelFile", `${file}: storage ${storage.key} has ${recorded} bytes in the archive, its ${storage.numel} ${storage.dtype} elements need ${expected}`);
            total += expected;
            if (total > maxStoredBytes)
                throw new EngineError("modelFile", `${file}: its storages hold more than the ${maxStoredBytes} bytes its expected tensors need`);
        }
        for (const storage of storages.values())
            if (floatDtypes[storage.dtype] !== undefined)
                stored.set(storage.key, await archive.read(`data/${storage.key}`, storage.numel * torchDtypeByteSize[storage.dtype]));
    } finally {
        archive.close();
    }
    return {
        file,
        root,
        values: (tensor, label) => {
            const bytes = stored.get(tensor.storage.key);
            const dtype = floatDtypes[tensor.storage.dtype];
            if (bytes === undefined || dtype === undefined)
                throw new EngineError("modelFile", `${file}: ${label} has dtype ${tensor.storage.dtype}; the converter reads float32, float16 and bfloat16 tensors only`);
            let data = decoded.get(tensor.storage.key);
            if (data === undefined) {
                data = decodeFloats(bytes, dtype);
                decoded.set(tensor.storage.key, data);
            }
            return gather(data, tensor);
        },
    };
}
