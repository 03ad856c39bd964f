/**
 * `torch.load(file, weights_only=True)` for a dict of float tensors, without Python and without running anything
 * from the file: the pickle goes through the restricted unpickler, storages are read from the zip.
 */
import { decodeFloats, type FloatDtype } from "./floatData.js";
import { EngineError } from "../engine/protocol/engineError.js";
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
/** A storage larger than this is no decider's; refuse rather than allocate. */
const maxStorageBytes = 1 << 30;

const floatDtypes: Readonly<Record<string, FloatDtype>> = { float32: "F32", float16: "F16", bfloat16: "BF16" };

/** Copies a strided view into a dense row-major array. */
function gather(data: Float32Array, tensor: TorchTensor): Float32Array {
    const { shape, stride, offset } = tensor;
    const count = shape.reduce((product, dim) => product * dim, 1);
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

export async function loadTorchFile(file: string): Promise<TorchFile> {
    const archive = await openTorchArchive(file);
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
        for (const storage of storages.values()) {
            const dtype = floatDtypes[storage.dtype];
            if (dtype === undefined)
                continue; // refused when a tensor of it is read, where the message can name the tensor
            const expected = storage.numel * torchDtypeByteSize[storage.dtype];
            const bytes = await archive.read(`data/${storage.key}`, Math.min(maxStorageBytes, expected));
            if (bytes.length !== expected)
                throw new EngineError("modelFile", `${file}: storage ${storage.key} has ${bytes.length} bytes, its ${storage.numel} ${storage.dtype} elements need ${expected}`);
            decoded.set(storage.key, decodeFloats(bytes, dtype));
        }
    } finally {
        archive.close();
    }
    return {
        file,
        root,
        values: (tensor, label) => {
            const data = decoded.get(tensor.storage.key);
            if (data === undefined)
                throw new EngineError("modelFile", `${file}: ${label} has dtype ${tensor.storage.dtype}; the converter reads float32, float16 and bfloat16 tensors only`);
            return gather(data, tensor);
        },
    };
}
