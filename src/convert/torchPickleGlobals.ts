/**
 * The allowlist for reading a `torch.save`d dict of tensors: the few globals such a pickle names, each mapped to a
 * TypeScript value or function written here, plus torch's persistent ids for storages. Nothing else resolves.
 */
import {
    PickleDict,
    PickleFunction,
    PickleObject,
    PickleTuple,
    describePickleValue,
    type PickleValue,
    type UnpicklerOptions,
} from "./restrictedUnpickler.js";

/** A torch dtype named in the pickle, e.g. `dtype=torch.bfloat16` in a constructor's arguments. */
export class TorchDtype extends PickleObject {
    constructor(readonly name: string) {
        super();
    }

    describe(): string {
        return `torch.${this.name}`;
    }
}

/** A storage class (`torch.BFloat16Storage`) as torch's persistent ids name it: a marker of the element type. */
export class TorchStorageType extends PickleObject {
    constructor(readonly qualifiedName: string, readonly dtype: string) {
        super();
    }

    describe(): string {
        return this.qualifiedName;
    }
}

/** A storage record of the archive (`data/<key>`), `numel` elements of `dtype`. */
export class TorchStorage extends PickleObject {
    constructor(readonly key: string, readonly dtype: string, readonly numel: number) {
        super();
    }

    describe(): string {
        return `storage ${this.key}`;
    }
}

/** A tensor: a strided view of a storage. */
export class TorchTensor extends PickleObject {
    constructor(readonly storage: TorchStorage, readonly offset: number, readonly shape: readonly number[], readonly stride: readonly number[]) {
        super();
    }

    get numel(): number {
        return this.shape.reduce((product, dim) => product * dim, 1);
    }

    describe(): string {
        return `a ${this.storage.dtype} tensor of shape [${this.shape.join(", ")}]`;
    }
}

/** Element size by dtype name; every dtype a storage may have, so that sizes are checked before a dtype is refused. */
export const torchDtypeByteSize: Readonly<Record<string, number>> = {
    float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** Storage classes by name; the element types torch's legacy typed storages stand for. */
const storageDtypes: Readonly<Record<string, string>> = {
    FloatStorage: "float32", HalfStorage: "float16", BFloat16Storage: "bfloat16", DoubleStorage: "float64",
    LongStorage: "int64", IntStorage: "int32", ShortStorage: "int16", CharStorage: "int8", ByteStorage: "uint8",
    BoolStorage: "bool",
};

/** The dtypes `init_args` may name (torch.dtype objects pickle as globals of module torch). */
const dtypeGlobals = ["float32", "float16", "bfloat16"] as const;

function isCount(value: PickleValue): value is number {
    return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function counts(value: PickleValue, what: string): number[] {
    if (!(value instanceof PickleTuple) || !value.items.every(isCount))
        throw new Error(`${what} must be a tuple of non-negative integers, not ${describePickleValue(value)}`);
    return value.items as number[];
}

function requireEmptyDict(value: PickleValue | undefined, what: string): void {
    if (value === undefined || value === null)
        return;
    if (!(value instanceof PickleDict) || value.entries.size > 0)
        throw new Error(`${what} must be empty, not ${describePickleValue(value)}`);
}

/** torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
function rebuildTensor(args: readonly PickleValue[]): TorchTensor {
    if (args.length < 6 || args.length > 7)
        throw new Error(`expects 6 or 7 arguments, got ${args.length}`);
    const [storage, offset, size, stride, requiresGrad, hooks, metadata] = args;
    if (!(storage instanceof TorchStorage))
        throw new Error(`the first argument must be a storage, not ${describePickleValue(storage)}`);
    if (!isCount(offset))
        throw new Error(`the storage offset must be a non-negative integer, not ${describePickleValue(offset)}`);
    const shape = counts(size, "the size");
    const strides = counts(stride, "the stride");
    if (strides.length !== shape.length)
        throw new Error(`the size [${shape.join(", ")}] and the stride [${strides.join(", ")}] differ in length`);
    if (typeof requiresGrad !== "boolean")
        throw new Error(`requires_grad must be a bool, not ${describePickleValue(requiresGrad)}`);
    requireEmptyDict(hooks, "backward hooks");
    requireEmptyDict(metadata, "tensor metadata");
    // a view of more elements than its storage holds (stride 0, overlapping rows) would grow a small file without bound
    const elements = shape.reduce((product, dim) => product * dim, 1);
    if (elements > storage.numel)
        throw new Error(`a tensor of size [${shape.join(", ")}] has ${elements} elements, more than ${storage.describe()} holds (${storage.numel}); views that repeat elements are refused`);
    if (shape.every((dim) => dim > 0)) {
        const last = shape.reduce((index, dim, i) => index + (dim - 1) * strides[i], offset);
        if (last >= storage.numel)
            throw new Error(`a tensor of size [${shape.join(", ")}], stride [${strides.join(", ")}] at offset ${offset} reads element ${last} of ${storage.describe()}, which has ${storage.numel}`);
    }
    return new TorchTensor(storage, offset, shape, strides);
}

/** torch._utils._rebuild_parameter(data, requires_grad, backward_hooks): the parameter's tensor. */
function rebuildParameter(args: readonly PickleValue[]): TorchTensor {
    const [data, requiresGrad, hooks] = args;
    if (args.length !== 3 || !(data instanceof TorchTensor) || typeof requiresGrad !== "boolean")
        throw new Error("expects (tensor, requires_grad, backward_hooks)");
    requireEmptyDict(hooks, "backward hooks");
    return data;
}

/** collections.OrderedDict(): an empty dict; torch.save fills it with SETITEMS. */
function orderedDict(args: readonly PickleValue[]): PickleDict {
    if (args.length > 0)
        throw new Error("is only allowed without arguments");
    return new PickleDict();
}

const allowed = new Map<string, PickleValue>([
    ["collections.OrderedDict", new PickleFunction("collections.OrderedDict", orderedDict)],
    ["torch._utils._rebuild_tensor_v2", new PickleFunction("torch._utils._rebuild_tensor_v2", rebuildTensor)],
    ["torch._utils._rebuild_parameter", new PickleFunction("torch._utils._rebuild_parameter", rebuildParameter)],
    ...Object.entries(storageDtypes).map(([name, dtype]): [string, PickleValue] => [`torch.${name}`, new TorchStorageType(`torch.${name}`, dtype)]),
    // torch.save names an untyped storage through this class; its elements are bytes.
    ["torch.UntypedStorage", new TorchStorageType("torch.UntypedStorage", "uint8")],
    ["torch.storage.UntypedStorage", new TorchStorageType("torch.storage.UntypedStorage", "uint8")],
    ...dtypeGlobals.map((name): [string, PickleValue] => [`torch.${name}`, new TorchDtype(name)]),
]);

/** A storage key names a record of the archive; refuse anything that could reach outside `data/`. */
const storageKeyPattern = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Unpickler options for a torch.save'd state dict. `storages` collects every storage the pickle references, by key,
 * so the caller reads exactly those records.
 */
export function torchUnpicklerOptions(file: string, storages: Map<string, TorchStorage>): UnpicklerOptions {
    return {
        file,
        resolveGlobal: (module, name) => allowed.get(`${module}.${name}`),
        allowedGlobals: [...allowed.keys()],
        // torch.save's persistent id: ('storage', storage class, key, location, numel).
        persistentLoad: (pid) => {
            if (!(pid instanceof PickleTuple) || pid.items.length !== 5 || pid.items[0] !== "storage")
                throw new Error(`expected ('storage', type, key, location, numel), got ${describePickleValue(pid)}`);
            const [, type, key, location, numel] = pid.items;
            if (!(type instanceof TorchStorageType))
                throw new Error(`the storage type must be a torch storage class, not ${describePickleValue(type)}`);
            if (typeof key !== "string" || !storageKeyPattern.test(key))
                throw new Error(`the storage key ${describePickleValue(key)} is not a plain record name`);
            if (typeof location !== "string" || !isCount(numel))
                throw new Error(`storage ${key} has a malformed location or size`);
            const known = storages.get(key);
            if (known !== undefined) {
                if (known.dtype !== type.dtype || known.numel !== numel)
                    throw new Error(`storage ${key} is named twice with different types or sizes`);
                return known;
            }
            const storage = new TorchStorage(key, type.dtype, numel);
            storages.set(key, storage);
            return storage;
        },
        // A state dict's OrderedDict carries `_metadata` (module versions) as its state; nothing else is settable.
        build: (target, state) => {
            if (!(target instanceof PickleDict))
                throw new Error("only a dict's state may be set");
            if (state !== null && !(state instanceof PickleDict && [...state.entries.keys()].every((key) => key === "_metadata")))
                throw new Error(`a dict's state may only hold _metadata, not ${describePickleValue(state)}`);
        },
    };
}
