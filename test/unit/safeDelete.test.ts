/** Delete removes only what is inside the models folder, whatever path it is given (.., absolute, links out). */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, beforeEach, test } from "node:test";
import { deletableTarget, deleteInstalledModel, OutsideModelsFolderError } from "../../src/models/safeDelete.js";

let root: string;
let modelsDir: string;
let precious: string;

beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "tah-safe-delete-"));
    modelsDir = path.join(root, "models");
    precious = path.join(root, "precious.gguf");
    await mkdir(path.join(modelsDir, "ggml-org--Coder-GGUF"), { recursive: true });
    await writeFile(path.join(modelsDir, "ggml-org--Coder-GGUF", "coder.gguf"), "model");
    await mkdir(path.join(modelsDir, "tah-q8_0"));
    await writeFile(path.join(modelsDir, "tah-q8_0", "tah-model.json"), "{}");
    await writeFile(precious, "not the extension's");
});

after(async () => {
    await rm(root, { recursive: true, force: true });
});

test("a model inside the models folder is removed, and its repository folder with its last file", async () => {
    await deleteInstalledModel(modelsDir, path.join(modelsDir, "ggml-org--Coder-GGUF", "coder.gguf"));
    assert.equal(existsSync(path.join(modelsDir, "ggml-org--Coder-GGUF")), false);
    await deleteInstalledModel(modelsDir, path.join(modelsDir, "tah-q8_0"));
    assert.equal(existsSync(path.join(modelsDir, "tah-q8_0")), false);
    assert.equal(existsSync(modelsDir), true, "the models folder itself stays");
});

test("a file outside, by absolute path or through '..', is refused and stays", async () => {
    for (const target of [precious, path.join(modelsDir, "..", "precious.gguf"), "../precious.gguf"])
        await assert.rejects(deleteInstalledModel(modelsDir, target), OutsideModelsFolderError, target);
    assert.equal(existsSync(precious), true);
});

test("the models folder itself is refused", async () => {
    await assert.rejects(deletableTarget(modelsDir, modelsDir), OutsideModelsFolderError);
    await assert.rejects(deletableTarget(modelsDir, "."), OutsideModelsFolderError);
});

test("a link inside the models folder that points outside is refused, and what it points at stays", async () => {
    const link = path.join(modelsDir, "linked.gguf");
    await symlink(precious, link);
    await assert.rejects(deleteInstalledModel(modelsDir, link), OutsideModelsFolderError);
    const linkedFolder = path.join(modelsDir, "linked-folder");
    await symlink(root, linkedFolder);
    await assert.rejects(deleteInstalledModel(modelsDir, path.join(linkedFolder, "precious.gguf")), OutsideModelsFolderError);
    assert.equal(existsSync(precious), true);
});

test("a models folder reached through a link still accepts what is inside it", async () => {
    const alias = path.join(root, "alias");
    await symlink(modelsDir, alias);
    assert.equal(await deletableTarget(alias, path.join(alias, "tah-q8_0")), path.join(await realpath(modelsDir), "tah-q8_0"));
});
