/**
 * Reading torch.save files (zip + pickle + storages) without Python: values and views come back exactly, anything
 * hostile or broken is refused with the file named, and nothing in the file runs.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { EngineError } from "../../src/engine/protocol/EngineError.js";
import { PickleDict } from "../../src/convert/restrictedUnpickler.js";
import { loadTorchFile } from "../../src/convert/torchLoad.js";
import { TorchTensor } from "../../src/convert/torchPickleGlobals.js";
import { PyCall, PyDict, PyGlobal, PyStackGlobal } from "../support/pickleWriter.js";
import { storedAs } from "../support/syntheticCheckpoint.js";
import { TorchSave, TorchStorageSpec } from "../support/torchSaveWriter.js";
import { writeZip, zipBytes } from "../support/zipWriter.js";

let dir = "";
before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "tah-torch-"));
});
after(() => rm(dir, { recursive: true, force: true }));

function ramp(count: number, scale = 0.37): Float32Array {
    return Float32Array.from({ length: count }, (_, i) => Math.fround((i - count / 3) * scale));
}

async function assertRefused(file: string, ...patterns: RegExp[]): Promise<void> {
    await assert.rejects(loadTorchFile(file, 1 << 20), (error: unknown) => {
        assert.ok(error instanceof EngineError && error.code === "modelFile", `a modelFile EngineError, not ${String(error)}`);
        assert.ok(error.message.includes(file), `names the file: ${error.message}`);
        for (const pattern of patterns)
            assert.match(error.message, pattern);
        return true;
    });
}

function tensorAt(root: unknown, key: string): TorchTensor {
    assert.ok(root instanceof PickleDict);
    const tensor = root.get(key);
    assert.ok(tensor instanceof TorchTensor, `${key} is a tensor`);
    return tensor;
}

describe("loadTorchFile", () => {
    it("reads float32, bfloat16 and float16 tensors, views of shared storages and parameters exactly", async () => {
        const file = path.join(dir, "values.bin");
        const save = new TorchSave();
        const shared = new TorchStorageSpec("float32", ramp(12));
        await save.write(file, new PyDict([
            ["f32", save.tensor("float32", [3, 4], ramp(12))],
            ["bf16", save.tensor("bfloat16", [5], ramp(5, 0.123))],
            ["f16", save.tensor("float16", [2, 2], ramp(4, 0.011))],
            ["param", save.tensor("bfloat16", [2, 3], ramp(6, 0.7), { parameter: true })],
            ["whole", save.view(shared, [3, 4])],
            ["transposed", save.view(shared, [4, 3], { stride: [1, 4] })],
            ["row", save.view(shared, [4], { offset: 8 })],
            ["scalar", save.tensor("bfloat16", [], Float32Array.of(0.9))],
        ]), "iter_decider");
        const loaded = await loadTorchFile(file, 1 << 20);
        const values = (key: string): Float32Array => loaded.values(tensorAt(loaded.root, key), key);
        assert.deepEqual(values("f32"), ramp(12));
        assert.deepEqual(values("bf16"), storedAs("BF16", ramp(5, 0.123)));
        assert.deepEqual(values("f16"), storedAs("F16", ramp(4, 0.011)));
        assert.deepEqual(values("param"), storedAs("BF16", ramp(6, 0.7)));
        assert.equal(tensorAt(loaded.root, "whole").storage, tensorAt(loaded.root, "transposed").storage, "one storage, read once");
        const whole = ramp(12);
        assert.deepEqual(values("transposed"), Float32Array.from({ length: 12 }, (_, i) => whole[(i % 3) * 4 + Math.floor(i / 3)]));
        assert.deepEqual(values("row"), whole.slice(8, 12));
        assert.deepEqual(values("scalar"), Float32Array.of(0.8984375));
    });

    it("refuses os.system without running it: the marker file is never created", async () => {
        const marker = path.join(dir, "pwned-marker");
        const file = path.join(dir, "hostile.bin");
        const save = new TorchSave();
        await save.write(file, new PyDict([
            ["class", "MLPIterDecider"],
            ["state_dict", new PyCall(new PyGlobal("os", "system"), [`touch ${marker}`])],
        ]));
        await assertRefused(file, /global os\.system/, /not allowed/);
        assert.equal(existsSync(marker), false);
    });

    it("refuses builtins.eval reached through STACK_GLOBAL", async () => {
        const file = path.join(dir, "eval.bin");
        const marker = path.join(dir, "eval-marker");
        await new TorchSave().write(file, new PyCall(new PyStackGlobal("builtins", "eval"), [`__import__('os').system('touch ${marker}')`]));
        await assertRefused(file, /global builtins\.eval/);
        assert.equal(existsSync(marker), false);
    });

    it("refuses tensors of dtypes the converter does not read, naming the tensor", async () => {
        const file = path.join(dir, "double.bin");
        const save = new TorchSave();
        await save.write(file, new PyDict([["w", save.tensor("float64", [2], new Uint8Array(16))]]));
        const loaded = await loadTorchFile(file, 1 << 20);
        assert.throws(() => loaded.values(tensorAt(loaded.root, "w"), "state_dict entry \"w\""), /state_dict entry "w" has dtype float64; the converter reads float32, float16 and bfloat16/);
    });

    it("refuses files that are not torch zip archives, or broken ones", async () => {
        const legacy = path.join(dir, "legacy.bin");
        await writeFile(legacy, Uint8Array.from([0x80, 0x02, 0x8a, 0x0a]));
        await assertRefused(legacy, /legacy \(pre-1\.6\) format/);
        const text = path.join(dir, "text.bin");
        await writeFile(text, "hello");
        await assertRefused(text, /not a PyTorch file/);
        await assertRefused(path.join(dir, "absent.bin"), /is missing/);

        const noPickle = path.join(dir, "nopickle.bin");
        await writeZip(noPickle, [{ name: "archive/version", data: Buffer.from("3\n") }]);
        await assertRefused(noPickle, /without <folder>\/data\.pkl/);

        const save = new TorchSave();
        const value = new PyDict([["w", save.tensor("float32", [4], ramp(4))]]);
        const entries = save.entries(value);
        const missing = path.join(dir, "missing-storage.bin");
        await writeZip(missing, entries.filter((entry) => !entry.name.endsWith("data/0")));
        await assertRefused(missing, /record archive\/data\/0 is missing/);
        const short = path.join(dir, "short-storage.bin");
        await writeZip(short, entries.map((entry) => (entry.name.endsWith("data/0") ? { ...entry, data: entry.data.subarray(0, 8) } : entry)));
        await assertRefused(short, /storage 0 has 8 bytes in the archive, its 4 float32 elements need 16/);
        const bigEndian = path.join(dir, "big-endian.bin");
        await writeZip(bigEndian, entries.map((entry) => (entry.name.endsWith("byteorder") ? { ...entry, data: Buffer.from("big") } : entry)));
        await assertRefused(bigEndian, /big-endian/);
        const truncated = path.join(dir, "truncated.bin");
        await writeFile(truncated, zipBytes(entries).subarray(0, 200));
        await assertRefused(truncated, /zip archive/);
    });

    it("refuses views that repeat elements (stride 0) and storages beyond the caller's bound, before reading them", async () => {
        const save = new TorchSave();
        const small = new TorchStorageSpec("float32", ramp(4));
        const repeated = path.join(dir, "stride0.bin");
        await save.write(repeated, new PyDict([["w", save.view(small, [1_000_000, 4], { stride: [0, 1] })]]));
        await assertRefused(repeated, /4000000 elements, more than .* holds \(4\); views that repeat elements are refused/);

        const large = path.join(dir, "large.bin");
        await save.write(large, new PyDict([["a", save.tensor("float32", [100_000], ramp(100_000))], ["b", save.tensor("float32", [100_000], ramp(100_000))]]));
        await assert.rejects(loadTorchFile(large, 500_000), /storages hold more than the 500000 bytes its expected tensors need/);
        assert.equal((await loadTorchFile(large, 800_000)).values(tensorAt((await loadTorchFile(large, 800_000)).root, "a"), "a").length, 100_000);
    });
});
