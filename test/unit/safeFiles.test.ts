/**
 * Model and checkpoint files are opened only when they are regular files inside their folder: a FIFO is refused
 * without blocking, a link to /dev/zero or outside the folder is refused, sizes are checked before reading, and a
 * file whose name merely starts with ".." is an ordinary file.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { readJsonFile } from "../../src/convert/jsonFile.js";
import { resolveModelFiles } from "../../src/engine/model/modelFiles.js";
import { readRegularFile } from "../../src/engine/model/safeFiles.js";
import { z } from "zod";
import { EngineError } from "../../src/engine/protocol/EngineError.js";

let dir = "";
const gguf = Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(60)]);

before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "tah-safe-"));
});
after(() => rm(dir, { recursive: true, force: true }));

function modelFileError(pattern: RegExp): (error: unknown) => boolean {
    return (error) => {
        assert.ok(error instanceof EngineError && error.code === "modelFile", `a modelFile EngineError, not ${String(error)}`);
        assert.match(error.message, pattern);
        return true;
    };
}

async function modelFolder(name: string, files: Record<string, string>): Promise<string> {
    const folder = path.join(dir, name);
    await mkdir(folder);
    await writeFile(path.join(folder, "tah-model.json"), JSON.stringify({ format: "tah-copilot-model", version: 1, ...files }));
    return folder;
}

describe("safe files", () => {
    it("refuses a FIFO without blocking, and a folder, each by its kind", async () => {
        const fifo = path.join(dir, "config.json");
        execFileSync("mkfifo", [fifo]);
        await assert.rejects(readJsonFile(fifo, z.object({})), modelFileError(/config\.json is a FIFO \(named pipe\), not a file/));
        const folder = path.join(dir, "tokenizer.json");
        await mkdir(folder);
        await assert.rejects(readRegularFile(folder, { maxBytes: 100 }), modelFileError(/tokenizer\.json is a folder, not a file/));
        await assert.rejects(readRegularFile(path.join(dir, "absent.json"), { maxBytes: 100 }), modelFileError(/absent\.json is missing/));
    });

    it("refuses a link to /dev/zero and a file over its bound before reading it", async () => {
        const zero = path.join(dir, "zero-link");
        await symlink("/dev/zero", zero);
        await assert.rejects(readRegularFile(zero, { inside: "/", maxBytes: 100 }), modelFileError(/is a device, not a file/));
        const big = path.join(dir, "big.json");
        await writeFile(big, Buffer.alloc(4096, 0x20));
        await assert.rejects(readRegularFile(big, { maxBytes: 1024 }), modelFileError(/has 4096 bytes, more than the 1024/));
    });

    it("refuses a symlink that leads outside the folder", async () => {
        const outside = path.join(dir, "outside.jinja");
        await writeFile(outside, "secret");
        const checkpoint = path.join(dir, "checkpoint");
        await mkdir(checkpoint);
        await symlink(outside, path.join(checkpoint, "chat_template.jinja"));
        await assert.rejects(readRegularFile(path.join(checkpoint, "chat_template.jinja"), { maxBytes: 100 }), modelFileError(/leads outside .*checkpoint/));
    });

    it("a model folder: a backbone linked outside it is refused, one named ..backbone.gguf is accepted, a FIFO manifest is refused", async () => {
        const elsewhere = path.join(dir, "elsewhere.gguf");
        await writeFile(elsewhere, gguf);
        const linked = await modelFolder("linked", { backbone: "backbone.gguf", lora: "lora.gguf", decider: "decider.gguf" });
        await symlink(elsewhere, path.join(linked, "backbone.gguf"));
        await writeFile(path.join(linked, "lora.gguf"), gguf);
        await writeFile(path.join(linked, "decider.gguf"), gguf);
        assert.throws(() => resolveModelFiles(linked), modelFileError(/backbone\.gguf leads outside/));

        const dotted = await modelFolder("dotted", { backbone: "..backbone.gguf", lora: "lora.gguf", decider: "decider.gguf" });
        for (const name of ["..backbone.gguf", "lora.gguf", "decider.gguf"])
            await writeFile(path.join(dotted, name), gguf);
        const files = resolveModelFiles(dotted);
        assert.equal(files.kind === "tah" ? path.basename(files.backbone) : "", "..backbone.gguf");

        const escaping = await modelFolder("escaping", { backbone: "../elsewhere.gguf", lora: "lora.gguf", decider: "decider.gguf" });
        assert.throws(() => resolveModelFiles(escaping), modelFileError(/the backbone path leaves the model folder/));

        const piped = path.join(dir, "piped");
        await mkdir(piped);
        execFileSync("mkfifo", [path.join(piped, "tah-model.json")]);
        assert.throws(() => resolveModelFiles(piped), modelFileError(/tah-model\.json is a FIFO/));
        const zeroDecider = await modelFolder("zero-decider", { backbone: "backbone.gguf", lora: "lora.gguf", decider: "decider.gguf" });
        await writeFile(path.join(zeroDecider, "backbone.gguf"), gguf);
        await writeFile(path.join(zeroDecider, "lora.gguf"), gguf);
        await mkdir(path.join(zeroDecider, "decider.gguf"));
        assert.throws(() => resolveModelFiles(zeroDecider), modelFileError(/decider\.gguf is a folder, not a file/));
    });
});
