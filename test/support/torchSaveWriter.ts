/**
 * Writes files in the format of `torch.save(obj, f)` (PyTorch ≥ 1.6, default protocol 2): a zip of stored entries —
 * `<prefix>/data.pkl`, `<prefix>/byteorder`, `<prefix>/data/<key>` per storage, `<prefix>/version`,
 * `<prefix>/.data/serialization_id`. Tensors pickle as torch does: REDUCE of torch._utils._rebuild_tensor_v2 over
 * (persistent id ('storage', torch.<T>Storage, key, 'cpu', numel), offset, size, stride, requires_grad,
 * OrderedDict()); parameters wrap that in torch._utils._rebuild_parameter. Storage keys are "0", "1", … in the
 * order the pickler meets them.
 */
import { encodeBfloat16, encodeFloat16 } from "../../src/gguf/floatEncoding.js";
import { PyCall, PyDict, PyGlobal, PyLazy, PyPersistent, PyTuple, pickleProtocol2, type PyValue } from "./pickleWriter.js";
import { writeZip, type ZipEntry } from "./zipWriter.js";

/** torch dtype names and the storage classes torch.save names for them. */
const storageClasses: Readonly<Record<string, string>> = {
    float32: "FloatStorage", bfloat16: "BFloat16Storage", float16: "HalfStorage", float64: "DoubleStorage", int64: "LongStorage",
};
const elementBytes: Readonly<Record<string, number>> = { float32: 4, bfloat16: 2, float16: 2, float64: 8, int64: 8 };

export class TorchStorageSpec {
    readonly bytes: Uint8Array;

    /** Float32Array values are encoded for float32 / bfloat16 / float16; other dtypes take raw bytes. */
    constructor(readonly dtype: string, data: Float32Array | Uint8Array) {
        if (data instanceof Uint8Array)
            this.bytes = data;
        else {
            const encoded = dtype === "float32" ? data : dtype === "bfloat16" ? encodeBfloat16(data) : dtype === "float16" ? encodeFloat16(data) : undefined;
            if (encoded === undefined)
                throw new Error(`give raw bytes for a ${dtype} storage`);
            this.bytes = new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
        }
        if (storageClasses[dtype] === undefined)
            throw new Error(`no storage class for ${dtype}`);
    }

    get numel(): number {
        return this.bytes.byteLength / elementBytes[this.dtype];
    }
}

export interface TensorViewOptions {
    readonly offset?: number;
    /** Default: contiguous row-major. */
    readonly stride?: readonly number[];
    /** Default false for a tensor, true for a parameter. */
    readonly requiresGrad?: boolean;
    /** Pickle as an nn.Parameter (torch._utils._rebuild_parameter). */
    readonly parameter?: boolean;
}

function rowMajorStride(shape: readonly number[]): number[] {
    return shape.map((_, i) => shape.slice(i + 1).reduce((product, dim) => product * dim, 1));
}

/** One torch.save call: tensors made here share its storage numbering. */
export class TorchSave {
    private readonly keys = new Map<TorchStorageSpec, string>();

    /** A tensor over `storage` (a view when offset/stride say so). */
    view(storage: TorchStorageSpec, shape: readonly number[], options: TensorViewOptions = {}): PyLazy {
        return new PyLazy(() => {
            let key = this.keys.get(storage);
            if (key === undefined) {
                key = String(this.keys.size);
                this.keys.set(storage, key);
            }
            const pid = new PyTuple(["storage", new PyGlobal("torch", storageClasses[storage.dtype]), key, "cpu", storage.numel]);
            const tensor = new PyCall(new PyGlobal("torch._utils", "_rebuild_tensor_v2"), [
                new PyPersistent(pid), options.offset ?? 0, new PyTuple(shape), new PyTuple(options.stride ?? rowMajorStride(shape)),
                // A parameter pickles its .data, which never requires grad; the parameter carries the flag.
                options.parameter ? false : options.requiresGrad ?? false, new PyDict([], { ordered: true }),
            ]);
            return options.parameter
                ? new PyCall(new PyGlobal("torch._utils", "_rebuild_parameter"), [tensor, options.requiresGrad ?? true, new PyDict([], { ordered: true })])
                : tensor;
        });
    }

    /** A contiguous tensor with its own storage. */
    tensor(dtype: string, shape: readonly number[], data: Float32Array | Uint8Array, options: TensorViewOptions = {}): PyLazy {
        return this.view(new TorchStorageSpec(dtype, data), shape, options);
    }

    /** The archive's entries; `prefix` is "archive" for a stream, the file's stem for a path. */
    entries(value: PyValue, prefix = "archive"): ZipEntry[] {
        const pickle = pickleProtocol2(value);
        const text = (data: string): Uint8Array => Buffer.from(data, "utf8");
        const storages = [...this.keys].sort(([, a], [, b]) => Number(a) - Number(b));
        return [
            { name: `${prefix}/data.pkl`, data: pickle },
            { name: `${prefix}/byteorder`, data: text("little") },
            ...storages.map(([storage, key]) => ({ name: `${prefix}/data/${key}`, data: storage.bytes })),
            { name: `${prefix}/version`, data: text("3\n") },
            { name: `${prefix}/.data/serialization_id`, data: text("1234567890123456789012345678901234567890") },
        ];
    }

    async write(file: string, value: PyValue, prefix = "archive"): Promise<void> {
        await writeZip(file, this.entries(value, prefix));
    }
}
