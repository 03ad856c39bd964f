/**
 * A corpus of hostile checkpoints and model folders, generated here (nothing binary is committed): each is run
 * through `tah convert` or the engine's load (`tah trace`) in a child process with a V8 heap limit and a wall-clock
 * limit, its peak resident memory read from /proc/<pid>/status (VmHWM). Each must end in one line with an error code,
 * or in a clean run, within those limits: no hang, no signal, no stack trace, no unbounded allocation.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { crc32, deflateRawSync } from "node:zlib";
import { PyCall, PyDict, PyGlobal, PyPersistent, PyTuple, pickleProtocol2, type PyValue } from "../support/pickleWriter.js";
import { writeSyntheticCheckpoint } from "../support/syntheticCheckpoint.js";
import { createTinyTah } from "../support/tinyTah.js";
import { TorchSave, TorchStorageSpec } from "../support/torchSaveWriter.js";
import { writeZip, type ZipEntry } from "../support/zipWriter.js";

const repo = path.resolve(import.meta.dirname, "..", "..");
const defaultModel = path.join(repo, "models", "tah-code-default");
/** Limits every case runs under: V8's heap, the wall clock, and the peak resident memory it may reach. */
const heapLimitMb = 512;
const wallLimitMs = 60_000;
const peakLimitBytes = 900 << 20;

let root = "";
let good = "";

interface Outcome {
    status: number | null;
    signal: NodeJS.Signals | null;
    stderr: string;
    peakBytes: number;
    timedOut: boolean;
}

function peakOf(pid: number): number {
    try {
        const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        return match === null ? 0 : Number(match[1]) * 1024;
    } catch {
        return 0; // the process has just exited
    }
}

function tah(args: string[]): Promise<Outcome> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [`--max-old-space-size=${heapLimitMb}`, "--import", "tsx", "src/cli/main.ts", ...args], { cwd: repo, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        let peakBytes = 0;
        let timedOut = false;
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
        const poll = setInterval(() => (peakBytes = Math.max(peakBytes, peakOf(child.pid!))), 20);
        const limit = setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
        }, wallLimitMs);
        child.on("error", reject);
        child.on("exit", (status, signal) => {
            clearInterval(poll);
            clearTimeout(limit);
            resolve({ status, signal, stderr, peakBytes, timedOut });
        });
    });
}

interface Case {
    name: string;
    args: () => string[];
    /** The one line expected on stderr, or "clean" for a run that must succeed. */
    expect: RegExp | "clean";
}

const cases: Case[] = [];
const peaks: Array<[string, number]> = [];

async function checkpointWith(name: string, change: (dir: string) => Promise<void>): Promise<string> {
    const dir = path.join(root, name);
    await cp(good, dir, { recursive: true });
    await change(dir);
    return dir;
}

async function editJson(file: string, edit: (json: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    await writeFile(file, JSON.stringify(edit(JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>)));
}

/** An iter_decider.bin whose state dict holds `stateDict` and whose archive holds `extra` records. */
async function writeDecider(dir: string, stateDict: PyValue, extra: ZipEntry[] = []): Promise<void> {
    const pickle = pickleProtocol2(new PyDict([["class", "MLPIterDecider"], ["state_dict", stateDict], ["init_args", new PyDict([])]]));
    await writeZip(path.join(dir, "iter_decider.bin"), [{ name: "archive/data.pkl", data: pickle }, { name: "archive/byteorder", data: Buffer.from("little") }, ...extra]);
}

async function writeRawDecider(dir: string, pickle: Uint8Array): Promise<void> {
    await writeZip(path.join(dir, "iter_decider.bin"), [{ name: "archive/data.pkl", data: pickle }, { name: "archive/byteorder", data: Buffer.from("little") }]);
}

function storageTensor(key: string, numel: number, shape: number[], stride: number[]): PyCall {
    const pid = new PyTuple(["storage", new PyGlobal("torch", "FloatStorage"), key, "cpu", numel]);
    return new PyCall(new PyGlobal("torch._utils", "_rebuild_tensor_v2"), [new PyPersistent(pid), 0, new PyTuple(shape), new PyTuple(stride), false, new PyDict([], { ordered: true })]);
}

/** Raw pickle opcodes: `head`, then `opcode` `count` times, then `tail`. */
function repeated(head: number[], opcode: number, count: number, tail: number[]): Uint8Array {
    const bytes = new Uint8Array(head.length + count + tail.length).fill(opcode);
    bytes.set(head, 0);
    bytes.set(tail, head.length + count);
    return bytes;
}

const convertCase = (name: string, expect: RegExp, change: (dir: string) => Promise<void>): void => {
    let dir = "";
    cases.push({ name, expect, args: () => ["convert", dir, "--out", path.join(root, `${name}.out`)] });
    prepare.push(async () => {
        dir = await checkpointWith(name, change);
    });
};
const prepare: Array<() => Promise<void>> = [];

convertCase("vocab-2e9", /vocab_size: Too big.*\(modelFile\)$/, (dir) => editJson(path.join(dir, "config.json"), (json) => ({ ...json, vocab_size: 2e9 })));
convertCase("layers-1e9", /num_hidden_layers: Too big.*\(modelFile\)$/, (dir) => editJson(path.join(dir, "config.json"), (json) => ({ ...json, num_hidden_layers: 1e9 })));
convertCase("intermediate-1e12", /intermediate_size: Too big.*\(modelFile\)$/, (dir) => editJson(path.join(dir, "config.json"), (json) => ({ ...json, intermediate_size: 1e12 })));
convertCase("decider-100-blocks", /hidden_dims: Too big.*\(modelFile\)$/, (dir) => editJson(path.join(dir, "tah_config.json"), (json) => ({ ...json, iter_decider_kwargs: { ...(json.iter_decider_kwargs as object), hidden_dims: new Array<number>(100).fill(32) } })));
convertCase("decider-threshold-NaN", /tah_config\.json is not valid JSON.*\(modelFile\)$/, (dir) => writeFile(path.join(dir, "tah_config.json"), "{\"iter_decider_kwargs\": {\"threshold\": NaN}}"));
convertCase("storages-4x256MiB-zip-bomb", /storages hold more than the \d+ bytes its expected tensors need \(modelFile\)$/, async (dir) => {
    const zeros = Buffer.alloc(256 << 20);
    const bomb = { data: deflateRawSync(zeros, { level: 9 }), deflated: { size: zeros.length, crc: crc32(zeros) } };
    const keys = ["0", "1", "2", "3"];
    await writeDecider(dir, new PyDict(keys.map((key) => [`w${key}`, storageTensor(key, 64 << 20, [64 << 20], [1])])), keys.map((key) => ({ name: `archive/data/${key}`, ...bomb })));
});
convertCase("storage-declared-1GiB-in-small-record", /storage 0 has 16 bytes in the archive, its 268435456 float32 elements need 1073741824 \(modelFile\)$/, (dir) =>
    writeDecider(dir, new PyDict([["w", storageTensor("0", 1 << 28, [4], [1])]]), [{ name: "archive/data/0", data: new Uint8Array(16) }]));
convertCase("stride-0-view", /views that repeat elements are refused .*\(modelFile\)$/, async (dir) => {
    const save = new TorchSave();
    const small = new TorchStorageSpec("float32", new Float32Array(256));
    await save.write(path.join(dir, "iter_decider.bin"), new PyDict([["class", "MLPIterDecider"], ["state_dict", new PyDict([["w", save.view(small, [600_000, 256], { stride: [0, 1] })]])], ["init_args", new PyDict([])]]));
});
// PROTO 2, then EMPTY_LIST MARK NONE… APPENDS, or NONE MEMOIZE…, then STOP
convertCase("pickle-500k-appends", /holds a list of 500000, not the .* dict TaH saves \(modelFile\)$/, (dir) =>
    writeRawDecider(dir, repeated([0x80, 2, 0x5d, 0x28], 0x4e, 500_000, [0x65, 0x2e])));
convertCase("pickle-20M-memoize", /more than \d+ memo entries.*\(modelFile\)$/, (dir) =>
    writeRawDecider(dir, repeated([0x80, 4, 0x4e], 0x94, 20_000_000, [0x2e])));
convertCase("pickle-2M-stack", /more than \d+ values on its stack.*\(modelFile\)$/, (dir) =>
    writeRawDecider(dir, repeated([0x80, 2, 0x5d, 0x28], 0x4e, 2_000_000, [0x65, 0x2e])));
convertCase("safetensors-overlapping", /tensors "a" and "b" overlap in the file \(modelFile\)$/, async (dir) => {
    const header = Buffer.from(JSON.stringify({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] }, b: { dtype: "F32", shape: [4], data_offsets: [8, 24] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    await writeFile(path.join(dir, "model.safetensors"), Buffer.concat([length, header, Buffer.alloc(24)]));
});
convertCase("config-is-a-FIFO", /config\.json is a FIFO \(named pipe\), not a file \(modelFile\)$/, async (dir) => {
    await rm(path.join(dir, "config.json"));
    execFileSync("mkfifo", [path.join(dir, "config.json")]);
});
convertCase("config-links-to-dev-zero", /config\.json leads outside .* \(modelFile\)$/, async (dir) => {
    await rm(path.join(dir, "config.json"));
    await symlink("/dev/zero", path.join(dir, "config.json"));
});
convertCase("tokenizer-is-a-folder", /tokenizer\.json is a folder, not a file \(modelFile\)$/, async (dir) => {
    await rm(path.join(dir, "tokenizer.json"));
    await mkdir(path.join(dir, "tokenizer.json"));
});
convertCase("template-links-outside", /chat_template\.jinja leads outside .* \(modelFile\)$/, async (dir) => {
    await writeFile(path.join(root, "secret.txt"), "secret");
    await rm(path.join(dir, "chat_template.jinja"));
    await symlink(path.join(root, "secret.txt"), path.join(dir, "chat_template.jinja"));
});
convertCase("weights-link-outside", /model\.safetensors leads outside .* \(modelFile\)$/, async (dir) => {
    await rename(path.join(dir, "model.safetensors"), path.join(root, "weights-elsewhere.safetensors"));
    await symlink(path.join(root, "weights-elsewhere.safetensors"), path.join(dir, "model.safetensors"));
});
cases.push({ name: "a good checkpoint", expect: "clean", args: () => ["convert", good, "--out", path.join(root, "good.out")] });

const loadCase = (name: string, expect: RegExp | "clean", change: (dir: string) => Promise<void>): void => {
    const dir = (): string => path.join(root, `model-${name}`);
    cases.push({ name: `load: ${name}`, expect, args: () => ["trace", "--model", dir(), "--tokens", "1,2,3", "--threads", "1"] });
    prepare.push(async () => {
        await cp(defaultModel, dir(), { recursive: true });
        await change(dir());
    });
};
loadCase("manifest-is-a-FIFO", /tah-model\.json is a FIFO \(named pipe\), not a file \(modelFile\)$/, async (dir) => {
    await rm(path.join(dir, "tah-model.json"));
    execFileSync("mkfifo", [path.join(dir, "tah-model.json")]);
});
loadCase("manifest-links-to-dev-zero", /tah-model\.json leads outside .* \(modelFile\)$/, async (dir) => {
    await rm(path.join(dir, "tah-model.json"));
    await symlink("/dev/zero", path.join(dir, "tah-model.json"));
});
loadCase("backbone-links-outside", /backbone\.gguf leads outside .* \(modelFile\)$/, async (dir) => {
    await rename(path.join(dir, "backbone.gguf"), path.join(root, `${path.basename(dir)}-backbone.gguf`));
    await symlink(path.join(root, `${path.basename(dir)}-backbone.gguf`), path.join(dir, "backbone.gguf"));
});
loadCase("backbone-is-a-folder", /backbone\.gguf is a folder, not a file \(modelFile\)$/, async (dir) => {
    await rm(path.join(dir, "backbone.gguf"));
    await mkdir(path.join(dir, "backbone.gguf"));
});
loadCase("..backbone.gguf", "clean", async (dir) => {
    await rename(path.join(dir, "backbone.gguf"), path.join(dir, "..backbone.gguf"));
    await editJson(path.join(dir, "tah-model.json"), (json) => ({ ...json, backbone: "..backbone.gguf" }));
});

before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah-hostile-"));
    good = (await writeSyntheticCheckpoint(path.join(root, "good"), createTinyTah({ seed: 9 }), { templateFile: true })).dir;
    for (const step of prepare)
        await step();
});

after(async () => {
    await rm(root, { recursive: true, force: true });
});

for (const hostile of cases) {
    test(hostile.name, async () => {
        const run = await tah(hostile.args());
        peaks.push([hostile.name, run.peakBytes]);
        assert.equal(run.timedOut, false, `ran past ${wallLimitMs / 1000} s`);
        assert.equal(run.signal, null, `ended by ${run.signal}`);
        assert.ok(run.peakBytes <= peakLimitBytes, `peak RSS ${(run.peakBytes / 2 ** 20).toFixed(0)} MiB`);
        if (hostile.expect === "clean") {
            assert.equal(run.status, 0, run.stderr);
            return;
        }
        assert.equal(run.status, 1, run.stderr);
        const lines = run.stderr.trim().split("\n");
        assert.equal(lines.length, 1, `one line, not ${lines.length}:\n${run.stderr}`);
        assert.match(lines[0], hostile.expect);
    });
}

test("the corpus and its memory peaks", (t) => {
    t.diagnostic(`${cases.length} cases; peak RSS (MiB): ${peaks.map(([name, bytes]) => `${name} ${(bytes / 2 ** 20).toFixed(0)}`).join(", ")}`);
    assert.equal(peaks.length, cases.length);
});
