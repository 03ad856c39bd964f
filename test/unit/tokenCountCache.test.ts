// VS Code's Chat counts the same history and tools before every request: each (model, text) is asked of the engine
// once, the least recently used count goes first past the bound, and a failed count is asked again.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TokenCountCache } from "../../src/languageModels/TokenCountCache.js";

describe("TokenCountCache", () => {
    test("asks the engine once per model and text", async () => {
        const cache = new TokenCountCache(10);
        const asked: string[] = [];
        const count = (model: string, text: string): Promise<number> => cache.count(model, text, () => {
            asked.push(`${model}:${text}`);
            return Promise.resolve(text.length);
        });
        assert.deepEqual([await count("a", "hello"), await count("a", "hello"), await count("a", "hi"), await count("b", "hello")], [5, 5, 2, 5]);
        assert.deepEqual(asked, ["a:hello", "a:hi", "b:hello"], "another model's tokenizer is asked again");
    });

    test("past the bound the least recently used count is dropped; a failed count is not kept", async () => {
        const cache = new TokenCountCache(2);
        let asked = 0;
        const count = (text: string): Promise<number> => cache.count("m", text, () => Promise.resolve(++asked));
        await count("x");
        await count("y");
        await count("x");
        await count("z");
        assert.equal(cache.size, 2);
        await count("x");
        assert.equal(asked, 3, "x was used last before z came, so y went");
        await count("y");
        assert.equal(asked, 4);
        await assert.rejects(cache.count("m", "bad", () => Promise.reject(new Error("engine down"))));
        assert.equal(await cache.count("m", "bad", () => Promise.resolve(7)), 7);
    });
});
