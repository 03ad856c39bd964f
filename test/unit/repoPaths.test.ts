/** A hub's file list names where each file lands: only plain names are taken, so nothing lands outside the staging folder. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import { repoPathSegments } from "../../src/models/stagedDownload.js";

test("plain paths split into their segments", () => {
    assert.deepEqual(repoPathSegments("o/r", "model.safetensors"), ["model.safetensors"]);
    assert.deepEqual(repoPathSegments("o/r", "lora/adapter_model.safetensors"), ["lora", "adapter_model.safetensors"]);
    // a name that merely starts with dots is a plain name
    assert.deepEqual(repoPathSegments("o/r", "..backbone.gguf"), ["..backbone.gguf"]);
});

test("a path that climbs out, or names nothing, is refused, including ones that normalise back inside", () => {
    for (const hostile of ["../r/x", "a/../../x", "../../etc/passwd", "/abs", "a//b", "./a", "a/.", "a\\..\\b", "a\0b", ""]) {
        assert.throws(() => repoPathSegments("o/r", hostile), (error: unknown) => {
            assert.equal((error as { code?: unknown }).code, "unsupported", hostile);
            assert.equal(engineErrorCodeOf(error), "internal");
            return true;
        }, JSON.stringify(hostile));
    }
});
