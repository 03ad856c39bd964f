/**
 * A pickle reader that executes nothing. It interprets the opcodes `torch.save` emits (protocol 2, plus the
 * protocol 4 framing and memo opcodes) into plain values. Globals resolve only through an allowlist the caller
 * supplies; anything else — `os.system`, `builtins.eval`, `subprocess.Popen`, … — stops the read with an error
 * naming the file and the global. REDUCE calls only the allowlist's own TypeScript functions, BUILD only what the
 * caller's `build` accepts; INST, OBJ, NEWOBJ, extension codes and text persistent ids are refused outright.
 *
 * Why not the `pickleparser` npm package: its name resolver can refuse unknown globals, but the rest of its VM is
 * open — REDUCE and NEWOBJ call or construct whatever value sits on the stack, BUILD `Object.assign`s any state onto
 * any object (a `__proto__` key rewrites the prototype), SETITEM writes arbitrary keys into whatever is on top, and
 * a missing memo entry silently becomes `undefined`. A strict allowlist needs control of every opcode.
 */
import { EngineError } from "../engine/protocol/EngineError.js";

export type PickleValue = null | boolean | number | string | PickleValue[] | PickleTuple | PickleDict | PickleObject;

export class PickleTuple {
    constructor(readonly items: readonly PickleValue[]) {}
}

export type PickleDictKey = string | number;

/** A Python dict (or OrderedDict); insertion-ordered, with string or integer keys only. */
export class PickleDict {
    readonly entries = new Map<PickleDictKey, PickleValue>();

    get(key: PickleDictKey): PickleValue | undefined {
        return this.entries.get(key);
    }
}

/** A value that only an allowlisted global can produce (a storage type, a dtype, a tensor, a function). */
export abstract class PickleObject {
    /** How messages name it, e.g. "torch.FloatStorage" or "a tensor of shape [2, 3]". */
    abstract describe(): string;
}

/** An allowlisted callable: REDUCE runs `body`, TypeScript written for it, never anything the file names. */
export class PickleFunction extends PickleObject {
    constructor(readonly qualifiedName: string, private readonly body: (args: readonly PickleValue[]) => PickleValue) {
        super();
    }

    call(args: readonly PickleValue[]): PickleValue {
        return this.body(args);
    }

    describe(): string {
        return this.qualifiedName;
    }
}

export interface UnpicklerOptions {
    /** Named in every error. */
    readonly file: string;
    /** The value an allowed global stands for; undefined refuses the global. */
    readonly resolveGlobal: (module: string, name: string) => PickleValue | undefined;
    /** Listed in the refusal of a global outside the allowlist. */
    readonly allowedGlobals: readonly string[];
    /** BINPERSID: the value of a persistent id (torch's storages); absent refuses persistent ids. */
    readonly persistentLoad?: (pid: PickleValue) => PickleValue;
    /** BUILD: applies `state` to `target`, or throws to refuse; absent refuses BUILD. */
    readonly build?: (target: PickleValue, state: PickleValue) => void;
}

/** Opcodes this reader knows, by byte (pickletools names). */
const Op = {
    MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32,
    BINFLOAT: 0x47, BININT: 0x4a, BININT1: 0x4b, BININT2: 0x4d, NONE: 0x4e,
    BINPERSID: 0x51, REDUCE: 0x52, BINUNICODE: 0x58,
    EMPTY_LIST: 0x5d, APPEND: 0x61, BUILD: 0x62, GLOBAL: 0x63, APPENDS: 0x65,
    BINGET: 0x68, LONG_BINGET: 0x6a, BINPUT: 0x71, LONG_BINPUT: 0x72,
    SETITEM: 0x73, TUPLE: 0x74, SETITEMS: 0x75, EMPTY_DICT: 0x7d, EMPTY_TUPLE: 0x29,
    PROTO: 0x80, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87, NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a,
    SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d, STACK_GLOBAL: 0x93, MEMOIZE: 0x94, FRAME: 0x95,
} as const;

/** Opcodes that exist in the pickle format but are refused here, by name, for clearer errors. */
const refusedOpcodes: ReadonlyMap<number, string> = new Map([
    [0x69, "INST"], [0x6f, "OBJ"], [0x81, "NEWOBJ"], [0x92, "NEWOBJ_EX"], [0x82, "EXT1"], [0x83, "EXT2"], [0x84, "EXT4"],
    [0x50, "PERSID"], [0x49, "INT"], [0x4c, "LONG"], [0x46, "FLOAT"], [0x53, "STRING"], [0x56, "UNICODE"], [0x70, "PUT"],
    [0x67, "GET"], [0x64, "DICT"], [0x6c, "LIST"], [0x8b, "LONG4"], [0x54, "BINSTRING"], [0x55, "SHORT_BINSTRING"],
    [0x42, "BINBYTES"], [0x43, "SHORT_BINBYTES"], [0x8e, "BINBYTES8"], [0x8f, "EMPTY_SET"], [0x90, "ADDITEMS"],
    [0x91, "FROZENSET"], [0x96, "BYTEARRAY8"], [0x97, "NEXT_BUFFER"], [0x98, "READONLY_BUFFER"],
]);

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Describes a value for an error message without dumping it. */
export function describePickleValue(value: PickleValue | undefined): string {
    if (value === undefined)
        return "nothing";
    if (value === null)
        return "None";
    if (typeof value === "boolean" || typeof value === "number")
        return String(value);
    if (typeof value === "string")
        return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    if (Array.isArray(value))
        return `a list of ${value.length}`;
    if (value instanceof PickleTuple)
        return `a tuple of ${value.items.length}`;
    if (value instanceof PickleDict)
        return `a dict of ${value.entries.size}`;
    return value.describe();
}

/**
 * Bounds far above what a state dict needs (TaH's decider pickle: about 60 memo entries) and far below what would
 * exhaust V8 (a Map holds at most 2^24 entries, a call at most ~10^5 spread arguments).
 */
const maxMemoEntries = 1 << 20;
const maxStackValues = 1 << 20;
const maxMarkDepth = 1024;
const maxContainerItems = 1 << 20;
/** Values pushed in all, over every MARK frame: the stack bound alone is per frame, and MARK starts a fresh one. */
const maxPushedValues = 1 << 22;

class PickleMachine {
    private at = 0;
    private opcodeAt = 0;
    private stack: PickleValue[] = [];
    private pushed = 0;
    private readonly marks: PickleValue[][] = [];
    private readonly memo = new Map<number, PickleValue>();

    constructor(private readonly bytes: Uint8Array, private readonly options: UnpicklerOptions) {}

    fail(message: string, cause?: unknown): never {
        throw new EngineError("modelFile", `${this.options.file}: ${message} (pickle byte ${this.opcodeAt})`, cause === undefined ? undefined : { cause });
    }

    private take(length: number): Uint8Array {
        if (length > this.bytes.length - this.at)
            this.fail(`the pickle is truncated (an opcode needs ${length} more bytes, ${this.bytes.length - this.at} are left)`);
        const slice = this.bytes.subarray(this.at, this.at + length);
        this.at += length;
        return slice;
    }

    private view(length: number): DataView {
        const slice = this.take(length);
        return new DataView(slice.buffer, slice.byteOffset, slice.byteLength);
    }

    private length(bytes: 1 | 4 | 8): number {
        const view = this.view(bytes);
        if (bytes === 1)
            return view.getUint8(0);
        if (bytes === 4)
            return view.getUint32(0, true);
        const length = view.getBigUint64(0, true);
        if (length > BigInt(this.bytes.length))
            this.fail(`the pickle is truncated (a string of ${length} bytes)`);
        return Number(length);
    }

    private text(length: number): string {
        try {
            return utf8.decode(this.take(length));
        } catch (error) {
            if (error instanceof EngineError)
                throw error;
            return this.fail("a string is not valid UTF-8", error);
        }
    }

    private line(): string {
        const end = this.bytes.indexOf(0x0a, this.at);
        if (end < 0)
            this.fail("the pickle is truncated (a GLOBAL name has no line end)");
        return this.text(end - this.at + 1).slice(0, -1);
    }

    private push(value: PickleValue): void {
        if (++this.pushed > maxPushedValues)
            this.fail(`the pickle makes more than ${maxPushedValues} values; no state dict needs that`);
        if (this.stack.length >= maxStackValues)
            this.fail(`the pickle holds more than ${maxStackValues} values on its stack; no state dict needs that`);
        this.stack.push(value);
    }

    private remember(index: number): void {
        if (this.memo.size >= maxMemoEntries && !this.memo.has(index))
            this.fail(`the pickle stores more than ${maxMemoEntries} memo entries; no state dict needs that`);
        this.memo.set(index, this.top());
    }

    private appendAll(list: PickleValue[], items: readonly PickleValue[]): void {
        if (list.length + items.length > maxContainerItems)
            this.fail(`the pickle builds a list of more than ${maxContainerItems} items; no state dict needs that`);
        for (const item of items)
            list.push(item);
    }

    private pop(): PickleValue {
        if (this.stack.length === 0)
            this.fail("the pickle pops from an empty stack");
        return this.stack.pop()!;
    }

    private top(): PickleValue {
        if (this.stack.length === 0)
            this.fail("the pickle reads the top of an empty stack");
        return this.stack[this.stack.length - 1];
    }

    private popMark(): PickleValue[] {
        const items = this.stack;
        const outer = this.marks.pop();
        if (outer === undefined)
            this.fail("the pickle closes a MARK it never opened");
        this.stack = outer;
        return items;
    }

    private memoGet(index: number): PickleValue {
        if (!this.memo.has(index))
            this.fail(`the pickle reads memo entry ${index}, which was never stored`);
        return this.memo.get(index)!;
    }

    private global(module: string, name: string): PickleValue {
        const value = this.options.resolveGlobal(module, name);
        if (value === undefined) {
            this.fail(`the pickle refers to the global ${module}.${name}, which is not allowed; refusing the file without running anything ` +
                `(allowed: ${this.options.allowedGlobals.join(", ")})`);
        }
        return value;
    }

    private setItem(dict: PickleValue, key: PickleValue, value: PickleValue): void {
        if (!(dict instanceof PickleDict))
            this.fail(`the pickle sets an item on ${describePickleValue(dict)}, which is not a dict`);
        if (typeof key !== "string" && !(typeof key === "number" && Number.isInteger(key)))
            this.fail(`the pickle uses ${describePickleValue(key)} as a dict key; only strings and integers are supported`);
        if (dict.entries.size >= maxContainerItems && !dict.entries.has(key))
            this.fail(`the pickle builds a dict of more than ${maxContainerItems} items; no state dict needs that`);
        dict.entries.set(key, value);
    }

    private list(value: PickleValue): PickleValue[] {
        if (!Array.isArray(value))
            this.fail(`the pickle appends to ${describePickleValue(value)}, which is not a list`);
        return value;
    }

    private long1(length: number): number {
        const bytes = this.take(length);
        let value = 0n;
        for (let i = length - 1; i >= 0; i--)
            value = (value << 8n) | BigInt(bytes[i]);
        if (length > 0 && (bytes[length - 1] & 0x80) !== 0)
            value -= 1n << BigInt(8 * length);
        if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER))
            this.fail(`the pickle holds the integer ${value}, beyond what the converter reads exactly`);
        return Number(value);
    }

    private reduce(callable: PickleValue, args: PickleValue): PickleValue {
        if (!(callable instanceof PickleFunction))
            this.fail(`the pickle calls ${describePickleValue(callable)} (REDUCE), which is not a callable the converter allows`);
        if (!(args instanceof PickleTuple))
            this.fail(`the pickle calls ${callable.qualifiedName} with ${describePickleValue(args)} instead of an argument tuple`);
        return this.guarded(callable.qualifiedName, () => callable.call(args.items));
    }

    /** Runs an allowlist hook; its plain errors become modelFile EngineErrors that name the file and the position. */
    private guarded<T>(what: string, action: () => T): T {
        try {
            return action();
        } catch (error) {
            if (error instanceof EngineError)
                throw error;
            return this.fail(`${what}: ${(error as Error).message}`, error);
        }
    }

    run(): PickleValue {
        for (;;) {
            if (this.at >= this.bytes.length)
                this.fail("the pickle ends without a STOP opcode (truncated?)");
            this.opcodeAt = this.at;
            const op = this.bytes[this.at++];
            switch (op) {
                case Op.PROTO: {
                    const version = this.take(1)[0];
                    if (version < 2 || version > 5)
                        this.fail(`pickle protocol ${version} is not supported (torch.save writes protocol 2)`);
                    break;
                }
                case Op.FRAME: this.take(8); break; // framing is only a read-ahead hint
                case Op.STOP: return this.pop();
                case Op.MARK:
                    if (this.marks.length >= maxMarkDepth)
                        this.fail(`the pickle nests more than ${maxMarkDepth} MARKs; no state dict needs that`);
                    this.marks.push(this.stack);
                    this.stack = [];
                    break;
                case Op.POP: this.pop(); break;
                case Op.POP_MARK: this.popMark(); break;
                case Op.DUP: this.push(this.top()); break;
                case Op.NONE: this.push(null); break;
                case Op.NEWTRUE: this.push(true); break;
                case Op.NEWFALSE: this.push(false); break;
                case Op.BININT: this.push(this.view(4).getInt32(0, true)); break;
                case Op.BININT1: this.push(this.take(1)[0]); break;
                case Op.BININT2: this.push(this.view(2).getUint16(0, true)); break;
                case Op.LONG1: this.push(this.long1(this.length(1))); break;
                case Op.BINFLOAT: this.push(this.view(8).getFloat64(0, false)); break;
                case Op.SHORT_BINUNICODE: this.push(this.text(this.length(1))); break;
                case Op.BINUNICODE: this.push(this.text(this.length(4))); break;
                case Op.BINUNICODE8: this.push(this.text(this.length(8))); break;
                case Op.EMPTY_LIST: this.push([]); break;
                case Op.EMPTY_DICT: this.push(new PickleDict()); break;
                case Op.EMPTY_TUPLE: this.push(new PickleTuple([])); break;
                case Op.TUPLE: {
                    const items = this.popMark(); // before `this.stack` is read: popMark replaces it
                    this.push(new PickleTuple(items));
                    break;
                }
                case Op.TUPLE1: {
                    const a = this.pop();
                    this.push(new PickleTuple([a]));
                    break;
                }
                case Op.TUPLE2: {
                    const b = this.pop();
                    const a = this.pop();
                    this.push(new PickleTuple([a, b]));
                    break;
                }
                case Op.TUPLE3: {
                    const c = this.pop();
                    const b = this.pop();
                    const a = this.pop();
                    this.push(new PickleTuple([a, b, c]));
                    break;
                }
                case Op.APPEND: {
                    const value = this.pop();
                    this.appendAll(this.list(this.top()), [value]);
                    break;
                }
                case Op.APPENDS: {
                    const items = this.popMark();
                    this.appendAll(this.list(this.top()), items);
                    break;
                }
                case Op.SETITEM: {
                    const value = this.pop();
                    const key = this.pop();
                    this.setItem(this.top(), key, value);
                    break;
                }
                case Op.SETITEMS: {
                    const items = this.popMark();
                    if (items.length % 2 !== 0)
                        this.fail("SETITEMS has a key without a value");
                    const dict = this.top();
                    for (let i = 0; i < items.length; i += 2)
                        this.setItem(dict, items[i], items[i + 1]);
                    break;
                }
                case Op.BINPUT: this.remember(this.take(1)[0]); break;
                case Op.LONG_BINPUT: this.remember(this.view(4).getUint32(0, true)); break;
                case Op.MEMOIZE: this.remember(this.memo.size); break;
                case Op.BINGET: this.push(this.memoGet(this.take(1)[0])); break;
                case Op.LONG_BINGET: this.push(this.memoGet(this.view(4).getUint32(0, true))); break;
                case Op.GLOBAL: {
                    const module = this.line();
                    const name = this.line();
                    this.push(this.global(module, name));
                    break;
                }
                case Op.STACK_GLOBAL: {
                    const name = this.pop();
                    const module = this.pop();
                    if (typeof module !== "string" || typeof name !== "string")
                        this.fail("STACK_GLOBAL needs a module and a name string");
                    this.push(this.global(module, name));
                    break;
                }
                case Op.REDUCE: {
                    const args = this.pop();
                    const callable = this.pop();
                    this.push(this.reduce(callable, args));
                    break;
                }
                case Op.BUILD: {
                    const state = this.pop();
                    const target = this.top();
                    const build = this.options.build;
                    if (build === undefined)
                        this.fail(`the pickle sets the state of ${describePickleValue(target)} (BUILD), which is not allowed`);
                    this.guarded(`setting the state of ${describePickleValue(target)}`, () => build(target, state));
                    break;
                }
                case Op.BINPERSID: {
                    const pid = this.pop();
                    const load = this.options.persistentLoad;
                    if (load === undefined)
                        this.fail("the pickle refers to external data (BINPERSID), which is not allowed here");
                    this.push(this.guarded("a persistent id", () => load(pid)));
                    break;
                }
                default: {
                    const name = refusedOpcodes.get(op);
                    this.fail(name !== undefined
                        ? `the pickle uses the opcode ${name}, which the converter does not allow (torch.save does not write it)`
                        : `the pickle has the unknown opcode 0x${op.toString(16).padStart(2, "0")}`);
                }
            }
        }
    }
}

/** Interprets a pickle into values; throws a modelFile EngineError on anything outside what the options allow. */
export function unpickle(bytes: Uint8Array, options: UnpicklerOptions): PickleValue {
    return new PickleMachine(bytes, options).run();
}
