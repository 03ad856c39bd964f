/** The catalogue's entries: well formed, each with its figures, and marked where a field was verified. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { catalogue, catalogueEntry, catalogueEntryForRepo, entryFigures } from "../../src/models/catalogue.js";
import { estimateMemory } from "../../src/models/memoryEstimate.js";
import { repoKindOf } from "../../src/models/repoFiles.js";
import { parseRepoRef } from "../../src/models/repoRef.js";

test("every entry is well formed: a unique id, a valid repository, the fields its kind needs", () => {
    assert.equal(new Set(catalogue.map((entry) => entry.id)).size, catalogue.length);
    assert.equal(new Set(catalogue.map((entry) => entry.repo.toLowerCase())).size, catalogue.length);
    for (const entry of catalogue) {
        assert.equal(parseRepoRef(`${entry.repo}@${entry.revision}`).repo, entry.repo);
        assert.ok(entry.goodFor.length > 10 && entry.licence.length > 0 && entry.title.length > 0, entry.id);
        for (const source of Object.values(entry.verified))
            assert.ok(typeof source === "string" && source.length > 0, entry.id);
        if (entry.kind === "gguf") {
            assert.ok(entry.include !== undefined && entry.include.length > 0 && entry.ggufType !== undefined, entry.id);
            // The file names the include globs name are a GGUF repository's, as the pull classifies it.
            assert.equal(repoKindOf([...entry.include]), "gguf", entry.id);
            assert.deepEqual(entry.roles, ["completion"], entry.id);
        } else {
            assert.deepEqual(entry.roles, ["chat"], entry.id);
            assert.equal(entry.include, undefined, entry.id);
        }
        assert.equal(entry.notRunnable, undefined, `${entry.id}: every entry is runnable (TaH2 too)`);
        assert.equal(entry.tah !== undefined, entry.kind !== "gguf", entry.id);
    }
});

test("the issue's models are there: TaH-plus-1.7B (verified), TaH2 runnable with no LoRA, llama.vscode's FIM GGUFs; no unpublished 0.6B", () => {
    const plus = catalogueEntry("tah-plus-1.7b");
    assert.equal(plus?.repo, "nics-efc/TaH-plus-1.7B");
    assert.ok(plus?.verified.repo !== undefined && plus.verified.files !== undefined);
    assert.equal(catalogueEntryForRepo("NICS-EFC/tah-plus-1.7b")?.id, "tah-plus-1.7b");
    assert.equal(catalogueEntryForRepo("nics-efc/TaH-plus-0.6B"), undefined);
    assert.deepEqual(catalogueEntry("tah2-1.7b-max2")?.tah, { loraRank: 0 });
    const coder = catalogueEntry("qwen2.5-coder-1.5b-q8_0");
    assert.deepEqual([coder?.repo, coder?.include], ["ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF", ["qwen2.5-coder-1.5b-q8_0.gguf"]]);
    assert.ok(coder?.verified.repo !== undefined);
});

test("figures: a TaH entry's size and memory follow the conversion type; a GGUF entry's are its own type's", () => {
    const plus = catalogueEntry("tah-plus-1.7b")!;
    const q8 = entryFigures(plus, "q8_0");
    const f16 = entryFigures(plus, "f16");
    assert.ok(q8.sizeOnDiskBytes < f16.sizeOnDiskBytes);
    assert.ok(q8.memory.totalBytes > q8.sizeOnDiskBytes);
    assert.equal(q8.memory.totalBytes, estimateMemory(plus.shape, { type: "q8_0", tah: plus.tah }).totalBytes);
    const coder = catalogueEntry("qwen2.5-coder-1.5b-q8_0")!;
    assert.equal(entryFigures(coder, "f16").type, "q8_0");
    // The hub's file is 1,646,573,056 bytes (as a third-party catalogue lists it); the estimate is within 5%.
    assert.ok(Math.abs(entryFigures(coder).sizeOnDiskBytes / 1_646_573_056 - 1) < 0.05, String(entryFigures(coder).sizeOnDiskBytes));
});
