/**
 * The packaged VSIX runs on x86-64 CPUs older than the one that built it: its own files (unpacked to a temporary
 * folder, nothing of this clone used) run `tah trace` on the default model under `qemu-x86_64 -cpu Haswell` and
 * `-cpu SandyBridge`, and must pick the matching CPU variant and give the host's greedy tokens and decisions.
 * Needs `npm run package` first (scripts/test.ts runs it before this step) and Debian's qemu-user.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { after, before, test } from "node:test";
import yauzl from "yauzl";
import { vsixFile } from "../../scripts/package.js";

interface TracedToken {
    position: number;
    token: number;
    iterated: boolean;
    topFinal: number;
}

interface Trace {
    backend: string;
    tokens: TracedToken[];
}

const steps = 4;
let dir: string;
let extension: string;

async function unzip(file: string, target: string): Promise<void> {
    const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, strictFileNames: true });
    try {
        for await (const entry of zip.eachEntry()) {
            if (entry.fileName.endsWith("/"))
                continue;
            const out = path.join(target, entry.fileName);
            mkdirSync(path.dirname(out), { recursive: true });
            await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(out));
        }
    } finally {
        zip.close();
    }
}

/** `tah trace` from the VSIX's own CLI; under qemu-x86_64 with the given CPU model when cpu is set. */
function trace(cpu?: string): Trace {
    const cli = [path.join(extension, "dist", "cli.mjs"), "trace", "--model", path.join(extension, "models", "tah-code-default"),
        "--prompt", "def add(a, b):", "--steps", String(steps), "--threads", "1", "--gpu", "auto"];
    const [command, args] = cpu === undefined ? [process.execPath, cli] : ["qemu-x86_64", ["-cpu", cpu, process.execPath, ...cli]];
    // the working folder is the temporary one: nothing of this clone can be found relative to it
    const result = spawnSync(command, args, { cwd: dir, encoding: "utf8", timeout: 15 * 60_000, env: { ...process.env, NODE_OPTIONS: "" } });
    assert.equal(result.status, 0, `trace${cpu === undefined ? "" : ` under -cpu ${cpu}`} failed (${result.signal ?? result.status}): ${result.stderr}`);
    const [header = "", , ...rows] = result.stdout.trim().split("\n");
    const backend = /backend (.*)$/.exec(header)?.[1];
    assert.ok(backend !== undefined, `no backend in the header: ${header}`);
    const tokens = rows.map((row) => {
        // position, token, piece, depth, the decider's probabilities, the top candidates
        const match = /^\s*(\d+)\s+(\d+)\s+"(?:[^"\\]|\\.)*"\s+(\d+)\s+\S+\s+\[(\d+),/.exec(row);
        assert.ok(match !== null, `unexpected trace line: ${row}`);
        return { position: Number(match[1]), token: Number(match[2]), iterated: Number(match[3]) > 0, topFinal: Number(match[4]) };
    });
    return { backend, tokens };
}

before(async () => {
    const vsix = vsixFile("linux-x64");
    assert.ok(existsSync(vsix), `${vsix} is missing: run npm run package first`);
    dir = await mkdtemp(path.join(os.tmpdir(), "tah-vsix-"));
    await unzip(vsix, dir);
    extension = path.join(dir, "extension");
});

after(() => rm(dir, { recursive: true, force: true }));

let host: Trace;

test("the VSIX's engine runs on the host and picks a CPU variant", () => {
    host = trace();
    console.log(`host: ${host.backend}`);
    assert.match(host.backend, /^cpu, cpu variant \w+/);
    // the prompt's records and one per generated token
    assert.ok(host.tokens.length > steps, `only ${host.tokens.length} records`);
});

for (const [cpu, variant] of [["Haswell", "haswell"], ["SandyBridge", "sandybridge"]] as const) {
    test(`under qemu -cpu ${cpu} it loads the ${variant} variant and gives the host's tokens and decisions`, () => {
        const emulated = trace(cpu);
        console.log(`${cpu}: ${emulated.backend}`);
        assert.match(emulated.backend, new RegExp(`^cpu, cpu variant ${variant}\\b`));
        assert.deepEqual(emulated.tokens, host.tokens);
    });
}
