/** The record beside each native build: anything that is not one reads as "not our build", never as a crash. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { readBuildRecord } from "../../src/engine/native/installedBuilds.js";

test("a valid record reads back; null, {}, a wrong gpu, truncated JSON and a missing file read as none", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tah-record-"));
    try {
        const valid = { buildId: "abc", gpu: "vulkan", folderName: "linux-x64-vulkan", nodeLlamaCppVersion: "3.21.1", cmakeOptions: { GGML_NATIVE: "OFF" }, seconds: 1 };
        const file = (name: string, text: string): string => {
            writeFileSync(path.join(dir, name), text);
            return path.join(dir, name);
        };
        assert.deepEqual(readBuildRecord(file("valid.json", JSON.stringify(valid))), valid);
        for (const [name, text] of [["null", "null"], ["empty", "{}"], ["gpu", JSON.stringify({ ...valid, gpu: "metal" })], ["truncated", JSON.stringify(valid).slice(0, 20)]])
            assert.equal(readBuildRecord(file(`${name}.json`, text)), undefined, name);
        assert.equal(readBuildRecord(path.join(dir, "missing.json")), undefined);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});
