/**
 * The restricted unpickler: it reads what torch.save writes into plain values, and refuses — without running
 * anything — every global outside the allowlist, calls of anything but the allowlist's own functions, and the
 * opcodes torch.save never writes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EngineError } from "../../src/engine/protocol/EngineError.js";
import { PickleDict, PickleTuple, unpickle, type PickleValue } from "../../src/convert/restrictedUnpickler.js";
import { TorchDtype, TorchStorage, TorchTensor, torchUnpicklerOptions } from "../../src/convert/torchPickleGlobals.js";
import {
    PyCall, PyDict, PyFloat, PyGlobal, PyPersistent, PyRawOpcodes, PyStackGlobal, PyTuple, pickleProtocol2, type PyValue,
} from "../support/pickleWriter.js";
import { TorchSave } from "../support/torchSaveWriter.js";

const file = "/checkpoints/x/iter_decider.bin";

function read(value: PyValue): { root: PickleValue; storages: Map<string, TorchStorage> } {
    const storages = new Map<string, TorchStorage>();
    return { root: unpickle(pickleProtocol2(value), torchUnpicklerOptions(file, storages)), storages };
}

function readBytes(bytes: number[]): PickleValue {
    return unpickle(Uint8Array.from(bytes), torchUnpicklerOptions(file, new Map()));
}

function assertRefused(action: () => unknown, ...patterns: RegExp[]): void {
    assert.throws(action, (error: unknown) => {
        assert.ok(error instanceof EngineError && error.code === "modelFile", `a modelFile EngineError, not ${String(error)}`);
        assert.ok(error.message.startsWith(`${file}: `), `names the file: ${error.message}`);
        for (const pattern of patterns)
            assert.match(error.message, pattern);
        return true;
    });
}

describe("restricted unpickler: values", () => {
    it("reads dicts, lists, tuples, integers of every width, floats, bools, None and strings", () => {
        const shared = [1, 2];
        const { root } = read(new PyDict([
            ["ints", [0, 255, 256, 65535, 65536, -1, -2147483648, 2147483647, 2 ** 40, -(2 ** 40)]],
            ["floats", [new PyFloat(1), 0.1, -2.5e-7]],
            ["flags", new PyTuple([true, false, null])],
            ["text", "tiefe Gedanken — 深い"],
            ["empty", new PyTuple([])],
            ["four", new PyTuple([1, 2, 3, 4])],
            ["a", shared],
            ["b", shared],
            [7, "integer key"],
        ]));
        assert.ok(root instanceof PickleDict);
        assert.deepEqual(root.get("ints"), [0, 255, 256, 65535, 65536, -1, -2147483648, 2147483647, 2 ** 40, -(2 ** 40)]);
        assert.deepEqual(root.get("floats"), [1, 0.1, -2.5e-7]);
        assert.deepEqual((root.get("flags") as PickleTuple).items, [true, false, null]);
        assert.equal(root.get("text"), "tiefe Gedanken — 深い");
        assert.deepEqual((root.get("empty") as PickleTuple).items, []);
        assert.deepEqual((root.get("four") as PickleTuple).items, [1, 2, 3, 4]);
        assert.equal(root.get("a"), root.get("b"), "a memoized list is the same object, as in Python");
        assert.equal(root.get(7), "integer key");
    });

    it("reads a torch.save'd state dict: OrderedDict with _metadata, tensors, parameters, dtypes", () => {
        const save = new TorchSave();
        const state = new PyDict([
            ["w", save.tensor("bfloat16", [2, 3], new Float32Array(6))],
            ["p", save.tensor("float32", [4], new Float32Array(4), { parameter: true, requiresGrad: true })],
            ["scalar", save.tensor("float16", [], new Float32Array(1))],
        ], { ordered: true, state: new PyDict([["_metadata", new PyDict([["", new PyDict([["version", 1]])]], { ordered: true })]]) });
        const { root, storages } = read(new PyDict([["state_dict", state], ["dtype", new PyGlobal("torch", "bfloat16")]]));
        assert.ok(root instanceof PickleDict);
        const dict = root.get("state_dict");
        assert.ok(dict instanceof PickleDict);
        const w = dict.get("w");
        assert.ok(w instanceof TorchTensor);
        assert.deepEqual([w.shape, w.stride, w.offset, w.storage.dtype, w.storage.key], [[2, 3], [3, 1], 0, "bfloat16", "0"]);
        const p = dict.get("p");
        assert.ok(p instanceof TorchTensor && p.storage.dtype === "float32" && p.shape[0] === 4);
        const scalar = dict.get("scalar");
        assert.ok(scalar instanceof TorchTensor && scalar.shape.length === 0 && scalar.storage.numel === 1);
        assert.deepEqual([...storages.keys()], ["0", "1", "2"]);
        const dtype = root.get("dtype");
        assert.ok(dtype instanceof TorchDtype && dtype.name === "bfloat16");
    });
});

describe("restricted unpickler: refusals", () => {
    it("refuses os.system by GLOBAL before anything could run", () => {
        const hostile = new PyDict([["x", new PyCall(new PyGlobal("os", "system"), ["touch /tmp/pwned"])]]);
        assertRefused(() => read(hostile), /global os\.system/, /not allowed/, /without running anything/);
    });

    it("refuses builtins.eval by STACK_GLOBAL", () => {
        assertRefused(() => read(new PyCall(new PyStackGlobal("builtins", "eval"), ["1+1"])), /global builtins\.eval/);
    });

    it("refuses subprocess, posix and torch functions that are not on the list", () => {
        for (const [module, name] of [["subprocess", "Popen"], ["posix", "system"], ["torch", "load"], ["torch._utils", "_rebuild_qtensor"], ["collections", "defaultdict"]])
            assertRefused(() => read(new PyGlobal(module, name)), new RegExp(`global ${module.replace(".", "\\.")}\\.${name}`));
    });

    it("refuses a REDUCE of an allowlisted name that is not a callable the converter implements", () => {
        assertRefused(() => read(new PyCall(new PyGlobal("torch", "FloatStorage"), [10])), /calls torch\.FloatStorage \(REDUCE\)/, /not a callable/);
        assertRefused(() => read(new PyCall(new PyGlobal("torch", "bfloat16"), [])), /calls torch\.bfloat16/);
        assertRefused(() => read(new PyCall("os.system", [])), /calls "os\.system"/);
        assertRefused(() => read(new PyCall(new PyGlobal("collections", "OrderedDict"), [[new PyTuple(["k", 1])]])), /OrderedDict: is only allowed without arguments/);
    });

    it("refuses BUILD on anything but a state dict's _metadata", () => {
        const tensorWithState = new PyCall(new PyGlobal("torch._utils", "_rebuild_tensor_v2"), [
            new PyPersistent(new PyTuple(["storage", new PyGlobal("torch", "FloatStorage"), "0", "cpu", 4])), 0, new PyTuple([4]), new PyTuple([1]), false, new PyDict([], { ordered: true }),
        ], new PyDict([["__class__", "x"]]));
        assertRefused(() => read(tensorWithState), /state of a float32 tensor/);
        assertRefused(() => read(new PyDict([], { ordered: true, state: new PyDict([["__setstate__", 1]]) })), /may only hold _metadata/);
    });

    it("refuses opcodes torch.save does not write, by name", () => {
        // INST: module\nname\n then a MARK-ed argument list — the classic pickle exploit path.
        assertRefused(() => readBytes([0x80, 2, 0x28, ...Buffer.from("iposix\nsystem\n"), 0x2e]), /opcode INST/);
        assertRefused(() => readBytes([0x80, 2, 0x81, 0x2e]), /opcode NEWOBJ/);
        assertRefused(() => readBytes([0x80, 2, 0x50, ...Buffer.from("x\n"), 0x2e]), /opcode PERSID/);
        assertRefused(() => readBytes([0x80, 2, 0xff, 0x2e]), /unknown opcode 0xff/);
        assertRefused(() => readBytes([0x80, 1, 0x4e, 0x2e]), /protocol 1 is not supported/);
    });

    it("refuses malformed pickles with a clear reason", () => {
        assertRefused(() => readBytes([0x80, 2, 0x4e]), /without a STOP/);
        assertRefused(() => readBytes([0x80, 2, 0x58, 10, 0, 0, 0, 0x61]), /truncated/);
        assertRefused(() => readBytes([0x80, 2, 0x68, 5, 0x2e]), /memo entry 5/);
        assertRefused(() => readBytes([0x80, 2, 0x2e]), /empty stack/);
        assertRefused(() => readBytes([0x80, 2, 0x65, 0x2e]), /MARK it never opened/);
        assertRefused(() => read(new PyDict([[1.5, 1]])), /as a dict key/);
        assertRefused(() => read(new PyRawOpcodes(Uint8Array.from([0x88, 0x4e, 0x61]))), /appends to true/);
    });

    it("checks torch's tensor and storage arguments", () => {
        const storage = (key: string, numel: number): PyPersistent => new PyPersistent(new PyTuple(["storage", new PyGlobal("torch", "FloatStorage"), key, "cpu", numel]));
        const tensor = (args: PyValue[]): PyCall => new PyCall(new PyGlobal("torch._utils", "_rebuild_tensor_v2"), args);
        const hooks = new PyDict([], { ordered: true });
        assertRefused(() => read(tensor([storage("0", 4), 1, new PyTuple([2, 2]), new PyTuple([2, 1]), false, hooks])), /reads element 4 of storage 0, which has 4/);
        assertRefused(() => read(tensor([storage("../../etc/passwd", 4), 0, new PyTuple([4]), new PyTuple([1]), false, hooks])), /not a plain record name/);
        assertRefused(() => read(tensor([storage("0", 4), 0, new PyTuple([4]), new PyTuple([1]), false, new PyDict([["hook", 1]])])), /backward hooks must be empty/);
        assertRefused(() => read(tensor([storage("0", 4), 0, new PyTuple([4]), new PyTuple([1, 1]), false, hooks])), /differ in length/);
        assertRefused(() => read(new PyPersistent(new PyTuple(["module", "os"]))), /expected \('storage'/);
    });

    it("bounds its memo, stack, lists and MARK nesting with a clear error instead of a RangeError", () => {
        // EMPTY_LIST MARK (NONE × n) APPENDS STOP: 500k items once made V8's spread of arguments throw a RangeError
        const appends = (count: number): Uint8Array => Uint8Array.from([0x80, 2, 0x5d, 0x28, ...new Uint8Array(count).fill(0x4e), 0x65, 0x2e]);
        const list = unpickle(appends(500_000), torchUnpicklerOptions(file, new Map()));
        assert.ok(Array.isArray(list) && list.length === 500_000);
        assertRefused(() => unpickle(appends(2_000_000), torchUnpicklerOptions(file, new Map())), /more than \d+ values on its stack/);
        // NONE MEMOIZE × 20M: a Map holds at most 2^24 entries
        const memoize = new Uint8Array(3 + 20_000_000 + 1).fill(0x94);
        memoize.set([0x80, 4, 0x4e], 0);
        memoize[memoize.length - 1] = 0x2e;
        assertRefused(() => unpickle(memoize, torchUnpicklerOptions(file, new Map())), /more than \d+ memo entries/);
        assertRefused(() => readBytes([0x80, 2, ...new Array<number>(2000).fill(0x28), 0x2e]), /nests more than 1024 MARKs/);
        // (MARK, EMPTY_DICT × 5000) × 1000: no frame passes the stack bound, but 5M dicts would exhaust the heap
        const frames = new Uint8Array(2 + 1000 * 5001 + 1);
        frames.set([0x80, 2], 0);
        for (let frame = 0; frame < 1000; frame++)
            frames.set([0x28, ...new Uint8Array(5000).fill(0x7d)], 2 + frame * 5001);
        frames[frames.length - 1] = 0x2e;
        assertRefused(() => unpickle(frames, torchUnpicklerOptions(file, new Map())), /more than \d+ values; no state dict/);
    });
});
