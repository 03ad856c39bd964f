/**
 * A pickle protocol 2 writer that emits what CPython's Pickler (which torch.save uses) emits for the same values:
 * EMPTY_DICT + SETITEM(S), EMPTY_LIST + APPEND(S), TUPLE1-3 / MARK…TUPLE, BININT1/BININT2/BININT/LONG1,
 * BINFLOAT, BINUNICODE, GLOBAL, REDUCE, BUILD and BINPERSID, with BINPUT after every memoizable object and BINGET
 * for repeats. Also writes what an attacker would: any global, any call, STACK_GLOBAL, raw opcodes.
 */

/** A Python float (a JS number that happens to be integral would otherwise be written as an int). */
export class PyFloat {
    constructor(readonly value: number) {}
}

export class PyTuple {
    constructor(readonly items: readonly PyValue[]) {}
}

/** A dict; `ordered` writes a collections.OrderedDict (REDUCE of the class, then the items, then BUILD of `state`). */
export class PyDict {
    constructor(readonly entries: readonly (readonly [string | number, PyValue])[], readonly options: { ordered?: boolean; state?: PyValue } = {}) {}
}

/** A module-level name (a function, a class, torch.bfloat16), written with GLOBAL. */
export class PyGlobal {
    constructor(readonly module: string, readonly name: string) {}
}

/** A name written with STACK_GLOBAL (protocol 4's form) — for hostile pickles. */
export class PyStackGlobal {
    constructor(readonly module: string, readonly name: string) {}
}

/** `callable(*args)`, written as REDUCE, optionally followed by BUILD with `state`. */
export class PyCall {
    constructor(readonly callable: PyValue, readonly args: readonly PyValue[], readonly state?: PyValue) {}
}

/** A persistent id (BINPERSID): torch.save's storage references. */
export class PyPersistent {
    constructor(readonly id: PyValue) {}
}

/** A value built when it is pickled, in pickling order (torch.save numbers storages as it meets them). */
export class PyLazy {
    private built: PyValue | undefined;

    constructor(private readonly build: () => PyValue) {}

    get value(): PyValue {
        this.built ??= this.build();
        return this.built;
    }
}

/** Bytes inserted as they are, for malformed pickles. */
export class PyRawOpcodes {
    constructor(readonly bytes: Uint8Array) {}
}

export type PyValue = null | boolean | number | string | PyFloat | PyValue[] | PyTuple | PyDict | PyGlobal | PyStackGlobal | PyCall | PyPersistent | PyLazy | PyRawOpcodes;

const op = {
    PROTO: 0x80, STOP: 0x2e, MARK: 0x28, NONE: 0x4e, NEWTRUE: 0x88, NEWFALSE: 0x89,
    BININT: 0x4a, BININT1: 0x4b, BININT2: 0x4d, LONG1: 0x8a, BINFLOAT: 0x47, BINUNICODE: 0x58,
    EMPTY_DICT: 0x7d, EMPTY_LIST: 0x5d, EMPTY_TUPLE: 0x29, TUPLE: 0x74, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87,
    APPEND: 0x61, APPENDS: 0x65, SETITEM: 0x73, SETITEMS: 0x75, BINPUT: 0x71, LONG_BINPUT: 0x72, BINGET: 0x68,
    LONG_BINGET: 0x6a, GLOBAL: 0x63, STACK_GLOBAL: 0x93, REDUCE: 0x52, BUILD: 0x62, BINPERSID: 0x51,
} as const;

/** CPython writes items in batches of this many (pickle._BATCHSIZE). */
const batchSize = 1000;

class PickleWriter {
    private readonly out: number[] = [];
    private readonly memo = new Map<unknown, number>();

    private bytes(...values: number[]): void {
        this.out.push(...values);
    }

    private u32(value: number): void {
        this.bytes(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
    }

    private memoKey(value: PyValue): unknown {
        if (typeof value === "string")
            return `str:${value}`;
        if (value instanceof PyGlobal)
            return `global:${value.module}.${value.name}`;
        return value;
    }

    /** GET for a value already written, as CPython's memo does by identity. */
    private fromMemo(value: PyValue): boolean {
        const index = this.memo.get(this.memoKey(value));
        if (index === undefined)
            return false;
        if (index < 256)
            this.bytes(op.BINGET, index);
        else {
            this.bytes(op.LONG_BINGET);
            this.u32(index);
        }
        return true;
    }

    private memoize(value: PyValue): void {
        const index = this.memo.size;
        this.memo.set(this.memoKey(value), index);
        if (index < 256)
            this.bytes(op.BINPUT, index);
        else {
            this.bytes(op.LONG_BINPUT);
            this.u32(index);
        }
    }

    private int(value: number): void {
        if (value >= 0 && value <= 0xff)
            this.bytes(op.BININT1, value);
        else if (value >= 0 && value <= 0xffff)
            this.bytes(op.BININT2, value & 0xff, value >> 8);
        else if (value >= -0x80000000 && value <= 0x7fffffff) {
            this.bytes(op.BININT);
            this.u32(value >>> 0);
        } else {
            // LONG1: little-endian two's complement, as short as the sign allows.
            let rest = BigInt(value);
            const encoded: number[] = [];
            for (;;) {
                const byte = Number(rest & 0xffn);
                encoded.push(byte);
                rest >>= 8n;
                if ((rest === 0n && (byte & 0x80) === 0) || (rest === -1n && (byte & 0x80) !== 0))
                    break;
            }
            this.bytes(op.LONG1, encoded.length, ...encoded);
        }
    }

    private string(value: string): void {
        const encoded = Buffer.from(value, "utf8");
        this.bytes(op.BINUNICODE);
        this.u32(encoded.length);
        this.bytes(...encoded);
        this.memoize(value);
    }

    private setItems(entries: readonly (readonly [string | number, PyValue])[]): void {
        for (let start = 0; start < entries.length; start += batchSize) {
            const batch = entries.slice(start, start + batchSize);
            if (batch.length === 1) {
                this.save(batch[0][0]);
                this.save(batch[0][1]);
                this.bytes(op.SETITEM);
                continue;
            }
            this.bytes(op.MARK);
            for (const [key, item] of batch) {
                this.save(key);
                this.save(item);
            }
            this.bytes(op.SETITEMS);
        }
    }

    private appends(items: readonly PyValue[]): void {
        for (let start = 0; start < items.length; start += batchSize) {
            const batch = items.slice(start, start + batchSize);
            if (batch.length === 1) {
                this.save(batch[0]);
                this.bytes(op.APPEND);
                continue;
            }
            this.bytes(op.MARK);
            batch.forEach((item) => this.save(item));
            this.bytes(op.APPENDS);
        }
    }

    save(value: PyValue): void {
        if (value === null) {
            this.bytes(op.NONE);
            return;
        }
        if (typeof value === "boolean") {
            this.bytes(value ? op.NEWTRUE : op.NEWFALSE);
            return;
        }
        if (typeof value === "number" && Number.isInteger(value)) {
            this.int(value);
            return;
        }
        if (typeof value === "number" || value instanceof PyFloat) {
            const bytes = Buffer.alloc(8);
            bytes.writeDoubleBE(typeof value === "number" ? value : value.value);
            this.bytes(op.BINFLOAT, ...bytes);
            return;
        }
        if (value instanceof PyLazy) {
            this.save(value.value);
            return;
        }
        if (value instanceof PyRawOpcodes) {
            this.bytes(...value.bytes);
            return;
        }
        if (value instanceof PyPersistent) {
            this.save(value.id);
            this.bytes(op.BINPERSID);
            return;
        }
        if (this.fromMemo(value))
            return;
        if (typeof value === "string") {
            this.string(value);
        } else if (Array.isArray(value)) {
            this.bytes(op.EMPTY_LIST);
            this.memoize(value);
            this.appends(value);
        } else if (value instanceof PyTuple) {
            if (value.items.length === 0) {
                this.bytes(op.EMPTY_TUPLE); // CPython does not memoize the empty tuple
                return;
            }
            if (value.items.length <= 3) {
                value.items.forEach((item) => this.save(item));
                this.bytes([op.TUPLE1, op.TUPLE2, op.TUPLE3][value.items.length - 1]);
            } else {
                this.bytes(op.MARK);
                value.items.forEach((item) => this.save(item));
                this.bytes(op.TUPLE);
            }
            this.memoize(value);
        } else if (value instanceof PyDict) {
            if (value.options.ordered) {
                this.save(new PyGlobal("collections", "OrderedDict"));
                this.bytes(op.EMPTY_TUPLE, op.REDUCE);
            } else {
                this.bytes(op.EMPTY_DICT);
            }
            this.memoize(value);
            this.setItems(value.entries);
            if (value.options.state !== undefined) {
                this.save(value.options.state);
                this.bytes(op.BUILD);
            }
        } else if (value instanceof PyGlobal) {
            this.bytes(op.GLOBAL, ...Buffer.from(`${value.module}\n${value.name}\n`, "utf8"));
            this.memoize(value);
        } else if (value instanceof PyStackGlobal) {
            this.save(value.module);
            this.save(value.name);
            this.bytes(op.STACK_GLOBAL);
            this.memoize(value);
        } else {
            this.save(value.callable);
            this.save(new PyTuple(value.args));
            this.bytes(op.REDUCE);
            this.memoize(value);
            if (value.state !== undefined) {
                this.save(value.state);
                this.bytes(op.BUILD);
            }
        }
    }

    finish(): Uint8Array {
        return Uint8Array.from([op.PROTO, 2, ...this.out, op.STOP]);
    }
}

/** `pickle.dumps(value, protocol=2)`. */
export function pickleProtocol2(value: PyValue): Uint8Array {
    const writer = new PickleWriter();
    writer.save(value);
    return writer.finish();
}
