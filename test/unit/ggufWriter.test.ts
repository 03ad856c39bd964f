import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { readGgufFileInfo, type GgufFileInfo } from "node-llama-cpp";
import {
    bfloat16BitsToFloat32,
    decodeBfloat16,
    decodeFloat16,
    encodeBfloat16,
    encodeFloat16,
    float16BitsToFloat32,
    float32ToBfloat16Bits,
    float32ToFloat16Bits,
} from "../../src/gguf/floatEncoding.js";
import { GgmlType, GgufValueType, gguf, type GgufMetadata } from "../../src/gguf/ggufTypes.js";
import { writeGguf, type GgufTensor } from "../../src/gguf/ggufWriter.js";

let dir = "";
before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "gguf-writer-"));
});
after(async () => {
    await rm(dir, { recursive: true, force: true });
});

/** Walks node-llama-cpp's nested metadata object along a dotted key. */
function metadataAt(info: GgufFileInfo, key: string): unknown {
    let node: unknown = info.metadata;
    for (const part of key.split(".")) {
        assert.ok(node !== null && typeof node === "object", `no metadata object at ${part} of ${key}`);
        node = (node as Record<string, unknown>)[part];
    }
    return node;
}

/**
 * Reads the metadata keys and their wire type ids straight from the file (node-llama-cpp's reader returns plain
 * JavaScript values, which hide e.g. uint32 vs int32).
 */
function rawMetadataTypes(bytes: Buffer): Map<string, { type: number; itemType?: number }> {
    let at = 0;
    const u32 = (): number => { at += 4; return bytes.readUInt32LE(at - 4); };
    const u64 = (): number => { at += 8; return Number(bytes.readBigUInt64LE(at - 8)); };
    const str = (): string => { const n = u64(); at += n; return bytes.toString("utf8", at - n, at); };
    const sizes: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
    const skip = (type: number): void => {
        if (type === GgufValueType.string)
            str();
        else
            at += sizes[type];
    };
    assert.equal(bytes.toString("latin1", 0, 4), "GGUF");
    at = 4;
    assert.equal(u32(), 3);
    u64();
    const count = u64();
    const types = new Map<string, { type: number; itemType?: number }>();
    for (let i = 0; i < count; i++) {
        const key = str();
        const type = u32();
        if (type === GgufValueType.array) {
            const itemType = u32();
            const n = u64();
            for (let j = 0; j < n; j++)
                skip(itemType);
            types.set(key, { type, itemType });
        } else {
            skip(type);
            types.set(key, { type });
        }
    }
    return types;
}

/** Yields `parts` asynchronously, as a file or network source would, throwing instead of part `failAt`. */
async function* chunks(parts: readonly Uint8Array[], failAt?: number): AsyncIterable<Uint8Array> {
    for (let i = 0; i < parts.length; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        if (i === failAt)
            throw new Error("source failed");
        yield parts[i];
    }
}

function f32Bytes(values: readonly number[]): Buffer {
    const array = new Float32Array(values);
    return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

async function assertNoFilesLike(target: string): Promise<void> {
    const base = path.basename(target);
    const left = (await readdir(path.dirname(target))).filter((name) => name.startsWith(base));
    assert.deepEqual(left, [], `left behind: ${left.join(", ")}`);
}

describe("writeGguf", () => {
    const metadata: GgufMetadata = {
        "general.architecture": gguf.string("test-arch"),
        "test.u8": gguf.uint8(255),
        "test.i8": gguf.int8(-128),
        "test.u16": gguf.uint16(65535),
        "test.i16": gguf.int16(-32768),
        "test.u32": gguf.uint32(4294967295),
        "test.i32": gguf.int32(-2147483648),
        "test.u64": gguf.uint64(2n ** 63n + 5n),
        "test.i64": gguf.int64(-7),
        "test.f32": gguf.float32(1e-6),
        "test.f64": gguf.float64(Math.PI),
        "test.flag": gguf.bool(true),
        "test.text": gguf.string("héllo ✓"),
        "test.ids": gguf.array("int32", [0, -1, 26]),
        "test.words": gguf.array("string", ["a b", "Ġt", ""]),
        "test.scales": gguf.array("float32", [0.5, -2]),
        "test.flags": gguf.array("bool", [true, false]),
    };

    it("writes metadata that node-llama-cpp reads back with the declared types", async () => {
        const file = path.join(dir, "meta.gguf");
        await writeGguf(file, { metadata, tensors: [] });
        const info = await readGgufFileInfo(file, { logWarnings: false });
        assert.equal(info.version, 3);
        assert.equal(Number(info.tensorCount), 0);
        assert.equal(metadataAt(info, "general.architecture"), "test-arch");
        assert.equal(metadataAt(info, "test.u8"), 255);
        assert.equal(metadataAt(info, "test.i8"), -128);
        assert.equal(metadataAt(info, "test.u16"), 65535);
        assert.equal(metadataAt(info, "test.i16"), -32768);
        assert.equal(metadataAt(info, "test.u32"), 4294967295);
        assert.equal(metadataAt(info, "test.i32"), -2147483648);
        assert.equal(metadataAt(info, "test.u64"), 2n ** 63n + 5n);
        assert.equal(metadataAt(info, "test.i64"), -7n);
        assert.equal(metadataAt(info, "test.f32"), Math.fround(1e-6));
        assert.equal(metadataAt(info, "test.f64"), Math.PI);
        assert.equal(metadataAt(info, "test.flag"), true);
        assert.equal(metadataAt(info, "test.text"), "héllo ✓");
        assert.deepEqual(metadataAt(info, "test.ids"), [0, -1, 26]);
        assert.deepEqual(metadataAt(info, "test.words"), ["a b", "Ġt", ""]);
        assert.deepEqual(metadataAt(info, "test.scales"), [0.5, -2]);
        assert.deepEqual(metadataAt(info, "test.flags"), [true, false]);

        const types = rawMetadataTypes(await readFile(file));
        assert.equal(types.has("general.alignment"), false);
        const expected: Record<string, { type: number; itemType?: number }> = {
            "general.architecture": { type: GgufValueType.string },
            "test.u8": { type: GgufValueType.uint8 },
            "test.i8": { type: GgufValueType.int8 },
            "test.u16": { type: GgufValueType.uint16 },
            "test.i16": { type: GgufValueType.int16 },
            "test.u32": { type: GgufValueType.uint32 },
            "test.i32": { type: GgufValueType.int32 },
            "test.u64": { type: GgufValueType.uint64 },
            "test.i64": { type: GgufValueType.int64 },
            "test.f32": { type: GgufValueType.float32 },
            "test.f64": { type: GgufValueType.float64 },
            "test.flag": { type: GgufValueType.bool },
            "test.text": { type: GgufValueType.string },
            "test.ids": { type: GgufValueType.array, itemType: GgufValueType.int32 },
            "test.words": { type: GgufValueType.array, itemType: GgufValueType.string },
            "test.scales": { type: GgufValueType.array, itemType: GgufValueType.float32 },
            "test.flags": { type: GgufValueType.array, itemType: GgufValueType.bool },
        };
        assert.deepEqual(Object.fromEntries(types), expected);
    });

    it("writes tensors at aligned offsets with the right dims, types and bytes", async () => {
        const file = path.join(dir, "tensors.gguf");
        const values = new Float32Array([1, -2.5, 0.1, 65519, 3e-8, -0, 7, 1e30]);
        const q4 = Buffer.alloc(2 * 18, 0xab); // two Q4_0 blocks = 64 elements
        const streamed = [f32Bytes([1, 2, 3]), f32Bytes([4, 5]), f32Bytes([6])];
        const tensors: GgufTensor[] = [
            { name: "a.f32", dims: [4, 2], type: GgmlType.F32, data: values },
            { name: "b.f16", dims: [8], type: GgmlType.F16, data: values },
            { name: "c.bf16", dims: [2, 2, 2], type: GgmlType.BF16, data: values },
            { name: "d.q4_0", dims: [32, 2], type: GgmlType.Q4_0, data: q4 },
            { name: "e.streamed", dims: [3, 2], type: GgmlType.F32, data: chunks(streamed) },
        ];
        await writeGguf(file, { metadata: { "general.architecture": gguf.string("test-arch") }, tensors });
        const info = await readGgufFileInfo(file, { logWarnings: false });
        const bytes = await readFile(file);
        const infos = info.tensorInfo!;
        assert.deepEqual(infos.map((t) => t.name), tensors.map((t) => t.name));
        assert.deepEqual(infos.map((t) => t.dimensions), tensors.map((t) => t.dims));
        assert.deepEqual(infos.map((t) => t.ggmlType as number), tensors.map((t) => t.type));
        // Sizes 32, 16, 16, 36, 24 bytes, each padded to 32.
        assert.deepEqual(infos.map((t) => Number(t.offset)), [0, 32, 64, 96, 160]);
        assert.equal(info.infoEndOffset! % 32, 0);
        assert.equal(bytes.length, info.infoEndOffset! + 192);
        const at = (i: number, length: number): Buffer => {
            const start = Number(infos[i].fileOffset);
            return bytes.subarray(start, start + length);
        };
        assert.deepEqual(at(0, 32), f32Bytes([...values]));
        const f16 = encodeFloat16(values);
        assert.deepEqual(at(1, 16), Buffer.from(f16.buffer));
        const bf16 = encodeBfloat16(values);
        assert.deepEqual(at(2, 16), Buffer.from(bf16.buffer));
        assert.deepEqual(at(3, 36), q4);
        assert.deepEqual(at(4, 24), f32Bytes([1, 2, 3, 4, 5, 6]));
    });

    it("writes general.alignment only for a non-default alignment, and honours it", async () => {
        const file = path.join(dir, "aligned.gguf");
        await writeGguf(file, {
            metadata: { "general.architecture": gguf.string("test-arch") },
            alignment: 64,
            tensors: [
                { name: "x", dims: [3], type: GgmlType.F32, data: new Float32Array(3) },
                { name: "y", dims: [5], type: GgmlType.F32, data: new Float32Array(5) },
            ],
        });
        const info = await readGgufFileInfo(file, { logWarnings: false });
        assert.equal(metadataAt(info, "general.alignment"), 64);
        assert.equal(rawMetadataTypes(await readFile(file)).get("general.alignment")?.type, GgufValueType.uint32);
        assert.deepEqual(info.tensorInfo!.map((t) => Number(t.offset)), [0, 64]);
        assert.equal(info.infoEndOffset! % 64, 0);
    });

    describe("rejects bad input and leaves no file behind", () => {
        const base = { "general.architecture": gguf.string("test-arch") };
        const cases: { title: string; tensors: () => GgufTensor[]; message: RegExp }[] = [
            {
                title: "a data iterable that throws",
                tensors: () => [{ name: "t", dims: [4], type: GgmlType.F32, data: chunks([f32Bytes([1, 2]), f32Bytes([3, 4])], 1) }],
                message: /source failed/,
            },
            {
                title: "a data iterable that is too short",
                tensors: () => [{ name: "t", dims: [4], type: GgmlType.F32, data: chunks([f32Bytes([1, 2, 3])]) }],
                message: /yielded 12 bytes/,
            },
            {
                title: "a data iterable that is too long",
                tensors: () => [{ name: "t", dims: [2], type: GgmlType.F32, data: chunks([f32Bytes([1]), f32Bytes([2, 3])]) }],
                message: /more than the 8 bytes/,
            },
            {
                title: "a buffer of the wrong byte length",
                tensors: () => [{ name: "t", dims: [32], type: GgmlType.Q8_0, data: Buffer.alloc(33) }],
                message: /has 33 bytes, its dims and type need 34/,
            },
            {
                title: "a Float32Array of the wrong length",
                tensors: () => [{ name: "t", dims: [2, 3], type: GgmlType.F16, data: new Float32Array(5) }],
                message: /has 5 values, its dims need 6/,
            },
            {
                title: "a Float32Array for a quantized type",
                tensors: () => [{ name: "t", dims: [32], type: GgmlType.Q4_0, data: new Float32Array(32) }],
                message: /only be encoded as F32, F16 or BF16/,
            },
            {
                title: "a row that is not a whole number of blocks",
                tensors: () => [{ name: "t", dims: [48, 2], type: GgmlType.Q4_K, data: Buffer.alloc(0) }],
                message: /not a multiple of the Q4_K block size 256/,
            },
            {
                title: "a 64-byte name",
                tensors: () => [{ name: "n".repeat(64), dims: [1], type: GgmlType.F32, data: new Float32Array(1) }],
                message: /must be 1 to 63 bytes/,
            },
            {
                title: "a duplicate name",
                tensors: () => [
                    { name: "t", dims: [1], type: GgmlType.F32, data: new Float32Array(1) },
                    { name: "t", dims: [1], type: GgmlType.F32, data: new Float32Array(1) },
                ],
                message: /duplicate tensor name/,
            },
        ];
        for (const testCase of cases) {
            it(testCase.title, async () => {
                const file = path.join(dir, `bad-${testCase.title.replaceAll(" ", "-")}.gguf`);
                await assert.rejects(writeGguf(file, { metadata: base, tensors: testCase.tensors() }), testCase.message);
                await assertNoFilesLike(file);
            });
        }

        it("an out-of-range metadata value", async () => {
            const file = path.join(dir, "bad-meta.gguf");
            await assert.rejects(writeGguf(file, { metadata: { ...base, "x.y": gguf.uint8(256) }, tensors: [] }),
                /metadata "x.y": 256 is out of range for uint8/);
            await assert.rejects(writeGguf(file, { metadata: { ...base, "x.y": gguf.array("int32", [1, 2.5]) }, tensors: [] }),
                /2.5 is not a valid int32/);
            await assertNoFilesLike(file);
        });

        it("a failed rewrite keeps the previous file intact", async () => {
            const file = path.join(dir, "keep.gguf");
            await writeFile(file, "previous");
            const tensors: GgufTensor[] = [{ name: "t", dims: [4], type: GgmlType.F32, data: chunks([f32Bytes([1, 2]), f32Bytes([3, 4])], 1) }];
            await assert.rejects(writeGguf(file, { metadata: base, tensors }), /source failed/);
            assert.equal(await readFile(file, "utf8"), "previous");
            assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith("keep.gguf.")), []);
        });
    });
});

describe("float encodings", () => {
    it("encodes float16 with round-to-nearest-even", () => {
        const cases: [number, number][] = [
            [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [1 / 3, 0x3555],
            [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00], [1e9, 0x7c00], [Infinity, 0x7c00], [-Infinity, 0xfc00],
            [NaN, 0x7e00], [-NaN, 0x7e00],
            [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [2 ** -25 * 1.0001, 0x0001],
            [1.5 * 2 ** -24, 0x0002], [2.5 * 2 ** -24, 0x0002], [1023.5 * 2 ** -24, 0x0400], [-3 * 2 ** -24, 0x8003],
            [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -20, 0x3c01],
        ];
        for (const [value, bits] of cases)
            assert.equal(float32ToFloat16Bits(value), bits, `f16(${value})`);
        // A negative NaN keeps its sign, as torch does.
        const negativeNaN = new Float32Array(new Uint32Array([0xffc00000]).buffer)[0];
        assert.equal(float32ToFloat16Bits(negativeNaN), 0xfe00);
    });

    it("encodes bfloat16 with round-to-nearest-even", () => {
        const cases: [number, number][] = [
            [0, 0x0000], [-0, 0x8000], [1, 0x3f80], [-2, 0xc000], [0.1, 0x3dcd], [Math.PI, 0x4049],
            [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], [1 + 2 ** -8 + 2 ** -20, 0x3f81],
            [3.4028234663852886e38, 0x7f80], [Infinity, 0x7f80], [-Infinity, 0xff80], [NaN, 0x7fc0],
            [1e-40, 0x0001],
        ];
        for (const [value, bits] of cases)
            assert.equal(float32ToBfloat16Bits(value), bits, `bf16(${value})`);
    });

    it("decodes every float16 and bfloat16 pattern back to the same pattern", () => {
        for (let bits = 0; bits < 0x10000; bits++) {
            const f16 = float16BitsToFloat32(bits);
            const bf16 = bfloat16BitsToFloat32(bits);
            if (Number.isNaN(f16))
                assert.equal((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0, true);
            else
                assert.equal(float32ToFloat16Bits(f16), bits);
            if (!Number.isNaN(bf16))
                assert.equal(float32ToBfloat16Bits(bf16), bits);
        }
        assert.equal(float16BitsToFloat32(0x7bff), 65504);
        assert.equal(float16BitsToFloat32(0x0001), 2 ** -24);
        assert.equal(float16BitsToFloat32(0xfc00), -Infinity);
        assert.equal(bfloat16BitsToFloat32(0x3f80), 1);
    });

    it("decodes little-endian byte buffers at any alignment", () => {
        const bytes = Buffer.from([0xff, 0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]);
        assert.deepEqual([...decodeFloat16(bytes.subarray(1, 7))], [1, -2, 2 ** -24]);
        assert.deepEqual([...decodeBfloat16(bytes.subarray(3, 5))], [-2]);
        assert.throws(() => decodeFloat16(bytes.subarray(0, 3)), /odd byte length/);
    });
});
