/** The safetensors reader: single and sharded checkpoints, streamed reads, and clear refusals of broken files. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { EngineError } from "../../src/engine/protocol/EngineError.js";
import { decodeFloats } from "../../src/convert/floatData.js";
import { readSafetensorsCheckpoint, readSafetensorsHeader, tensorChunks, type SafetensorsTensor } from "../../src/convert/safetensors.js";
import { safetensorsBytes, writeSafetensors, writeShardedSafetensors, type SafetensorsTensorSpec } from "../support/safetensorsWriter.js";
import { storedAs } from "../support/syntheticCheckpoint.js";

let dir = "";
before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "tah-safetensors-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function readAll(tensor: SafetensorsTensor): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of tensorChunks(tensor))
        chunks.push(chunk);
    return Buffer.concat(chunks);
}

const values = (count: number, scale: number): Float32Array => Float32Array.from({ length: count }, (_, i) => Math.fround(Math.sin(i) * scale));

const specs: SafetensorsTensorSpec[] = [
    { name: "a.weight", dtype: "F32", shape: [3, 5], data: values(15, 2) },
    { name: "b.weight", dtype: "BF16", shape: [7], data: values(7, 0.3) },
    { name: "c.weight", dtype: "F16", shape: [2, 2, 2], data: values(8, 0.01) },
    { name: "d.weight", dtype: "BF16", shape: [0, 4], data: new Float32Array(0) },
];

async function folder(name: string): Promise<string> {
    const at = path.join(dir, name);
    await mkdir(at, { recursive: true });
    return at;
}

async function assertRefused(promise: Promise<unknown>, file: string, pattern: RegExp): Promise<void> {
    await assert.rejects(promise, (error: unknown) => {
        assert.ok(error instanceof EngineError && error.code === "modelFile", `a modelFile EngineError, not ${String(error)}`);
        assert.ok(error.message.includes(file), `names ${file}: ${error.message}`);
        assert.match(error.message, pattern);
        return true;
    });
}

describe("safetensors reader", () => {
    it("reads headers and values of a single file, in chunks of any size", async () => {
        const at = await folder("single");
        await writeSafetensors(path.join(at, "model.safetensors"), specs);
        const tensors = await readSafetensorsCheckpoint(at);
        assert.deepEqual([...tensors.keys()], specs.map((spec) => spec.name));
        for (const spec of specs) {
            const tensor = tensors.get(spec.name)!;
            assert.equal(tensor.dtype, spec.dtype);
            assert.deepEqual(tensor.shape, spec.shape);
            const expected = storedAs(spec.dtype as "F32" | "F16" | "BF16", spec.data as Float32Array);
            assert.deepEqual(decodeFloats(await readAll(tensor), tensor.dtype), expected);
            const chunks: Uint8Array[] = [];
            for await (const chunk of tensorChunks(tensor, 6))
                chunks.push(chunk);
            assert.ok(chunks.every((chunk) => chunk.byteLength <= 4 && chunk.byteLength % 2 === 0), "chunk sizes are rounded down to whole elements");
            assert.deepEqual(decodeFloats(Buffer.concat(chunks), tensor.dtype), expected);
        }
    });

    it("reads sharded checkpoints through their index", async () => {
        const at = await folder("sharded");
        const files = await writeShardedSafetensors(at, specs, 3);
        assert.deepEqual(files, ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"]);
        const tensors = await readSafetensorsCheckpoint(at);
        assert.equal(tensors.size, specs.length);
        assert.equal(path.basename(tensors.get("c.weight")!.file), "model-00002-of-00003.safetensors");
        assert.deepEqual(decodeFloats(await readAll(tensors.get("a.weight")!), "F32"), specs[0].data);
    });

    it("refuses a sharded checkpoint whose index is wrong or whose shard is missing", async () => {
        const at = await folder("bad-index");
        await writeShardedSafetensors(at, specs, 2);
        const indexFile = path.join(at, "model.safetensors.index.json");
        const index = JSON.parse(await readFile(indexFile, "utf8")) as { weight_map: Record<string, string> };
        await writeFile(indexFile, JSON.stringify({ weight_map: { ...index.weight_map, "e.weight": "model-00001-of-00002.safetensors" } }));
        await assertRefused(readSafetensorsCheckpoint(at), "model-00001-of-00002.safetensors", /tensor "e\.weight" is missing/);
        await writeFile(indexFile, JSON.stringify({ weight_map: { "a.weight": "../../outside.safetensors" } }));
        await assertRefused(readSafetensorsCheckpoint(at), indexFile, /not a \.safetensors file in the checkpoint folder/);
        await writeFile(indexFile, JSON.stringify({ weight_map: { "a.weight": "model-00009-of-00009.safetensors" } }));
        await assertRefused(readSafetensorsCheckpoint(at), "model-00009-of-00009.safetensors", /is missing/);
    });

    it("refuses truncated files, naming the tensor that runs past the end", async () => {
        const file = path.join(await folder("truncated"), "model.safetensors");
        const bytes = safetensorsBytes(specs);
        await writeFile(file, bytes);
        await truncate(file, bytes.length - 3);
        await assertRefused(readSafetensorsHeader(file), file, /is truncated: tensor "c\.weight" ends at byte \d+, the file has \d+/);
        await truncate(file, 40);
        await assertRefused(readSafetensorsHeader(file), file, /is truncated: its header needs \d+ bytes, the file has 40/);
        await truncate(file, 5);
        await assertRefused(readSafetensorsHeader(file), file, /is truncated: 5 bytes/);
    });

    it("refuses unknown and non-float dtypes, inconsistent sizes and garbage headers", async () => {
        const at = await folder("dtypes");
        const file = path.join(at, "x.safetensors");
        await writeFile(file, safetensorsBytes([{ name: "ids", dtype: "I64", shape: [2], data: new Uint8Array(16) }]));
        await assertRefused(readSafetensorsHeader(file), file, /tensor "ids" has dtype I64; the converter reads F32, F16 and BF16 tensors only/);
        await writeFile(file, safetensorsBytes([{ name: "odd", dtype: "Q4_ZZ", shape: [2], data: new Uint8Array(2) }]));
        await assertRefused(readSafetensorsHeader(file), file, /tensor "odd" has the unknown dtype "Q4_ZZ"/);
        await writeFile(file, safetensorsBytes([{ name: "short", dtype: "F32", shape: [3], data: new Uint8Array(8) }]));
        await assertRefused(readSafetensorsHeader(file), file, /needs 12 bytes, its data_offsets \[0, 8\] hold 8/);
        const garbage = Buffer.alloc(16);
        garbage.writeBigUInt64LE(8n);
        garbage.write("not json", 8);
        await writeFile(file, garbage);
        await assertRefused(readSafetensorsHeader(file), file, /its header is not JSON/);
        const huge = Buffer.alloc(16);
        huge.writeBigUInt64LE(2n ** 40n);
        await writeFile(file, huge);
        await assertRefused(readSafetensorsHeader(file), file, /over the format's 100 MB limit/);
    });

    it("refuses tensors that share bytes of the file", async () => {
        const file = path.join(await folder("overlap"), "x.safetensors");
        const header = Buffer.from(JSON.stringify({
            a: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
            b: { dtype: "F32", shape: [4], data_offsets: [8, 24] },
        }));
        const length = Buffer.alloc(8);
        length.writeBigUInt64LE(BigInt(header.length));
        await writeFile(file, Buffer.concat([length, header, Buffer.alloc(24)]));
        await assertRefused(readSafetensorsHeader(file), file, /tensors "a" and "b" overlap in the file/);
    });

    it("says what is missing when there are no safetensors weights", async () => {
        const at = await folder("none");
        await assertRefused(readSafetensorsCheckpoint(at), path.join(at, "model.safetensors"), /is missing \(and there is no model\.safetensors\.index\.json/);
        await writeFile(path.join(at, "pytorch_model.bin"), "x");
        await assertRefused(readSafetensorsCheckpoint(at), "pytorch_model.bin", /PyTorch pickles; the converter reads safetensors only/);
    });
});
