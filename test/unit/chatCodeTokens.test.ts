import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { codeTokens, locateCode } from "../../src/chat/codeBlocks.js";
import { sliceTokens } from "../../src/chat/tokenSlices.js";
import { layOut } from "../../src/difficulty/trackedTokens.js";
import type { TokenView } from "../../src/engine/protocol/engineProtocol.js";

function view(text: string, token: number, difficulty = 0.1): TokenView {
    return {
        token, piece: text, text, difficulty, difficultyIsProxy: false, iterated: difficulty > 0.9, changed: false,
        before: [{ token, piece: text, prob: 1 - difficulty }], after: [],
    };
}

/** A message as the engine streams it: each token adds its text (an incomplete character adds none). */
function message(pieces: readonly string[]): { text: string; views: TokenView[] } {
    const views = pieces.map((piece, index) => view(piece, index + 1, index % 3 === 0 ? 0.95 : 0.1));
    return { text: views.map((token) => token.text).join(""), views };
}

describe("slicing tokens to a span of their text", () => {
    const { text, views } = message(["Use", " `", "map", "`:\n", "```", "ts", "\n", "xs", ".map", "(f", ")\n", "```", "\nDone"]);

    test("every span's tokens join to exactly that text, partial tokens cut at both ends", () => {
        for (let start = 0; start <= text.length; start++) {
            for (let end = start; end <= text.length; end++) {
                const sliced = sliceTokens(views, start, end);
                assert.equal(sliced.map((token) => token.text).join(""), text.slice(start, end), `${start}-${end}`);
                assert.ok(sliced.every((token) => token.text.length > 0));
            }
        }
    });

    test("a cut token keeps its identity and difficulty; a whole one is the same object", () => {
        const start = text.indexOf("s.map");
        const sliced = sliceTokens(views, start, start + 5);
        assert.deepEqual(sliced.map((token) => [token.token, token.text]), [[8, "s"], [9, ".map"]]);
        assert.equal(sliced[0]?.difficulty, views[7]?.difficulty);
        assert.equal(sliced[0]?.piece, "xs", "the piece is the model's token, the text what was inserted");
        assert.equal(sliced[1], views[8]);
    });

    test("tokens without text (an incomplete character) are left out", () => {
        const withPartial = [view("a", 1), { ...view("", 2), piece: "\xe2" }, view("é", 3), view("b", 4)];
        assert.deepEqual(sliceTokens(withPartial, 0, 3).map((token) => token.token), [1, 3, 4]);
    });
});

describe("finding a code block in a message", () => {
    const answer = "Here:\n\n```ts\nconst a = 1;\n```\n\nAgain:\n\n```ts\nconst a = 1;\n```\n";
    const text = `<think>\nplan\n</think>\n\n${answer}`;

    test("the line hint picks the block, counted in the answer after the reasoning", () => {
        const answerStart = text.indexOf("Here:");
        assert.equal(locateCode(text, "const a = 1;", 3), answerStart + answer.indexOf("const a = 1;"));
        assert.equal(locateCode(text, "const a = 1;", 9), answerStart + answer.lastIndexOf("const a = 1;"));
    });

    test("without a usable hint only an unambiguous match counts", () => {
        assert.equal(locateCode(text, "const a = 1;", 99), undefined, "two blocks hold it");
        assert.equal(locateCode(text, "Again:", 99), text.indexOf("Again:"));
        assert.equal(locateCode(text, "not there", 0), undefined);
        assert.equal(locateCode(text, "", 0), undefined);
    });

    test("a block indented in a list is not a substring: no tokens, rather than wrong ones", () => {
        const listed = "1. Run:\n\n   ```sh\n   npm i\n   npm test\n   ```\n";
        assert.equal(locateCode(listed, "npm i\nnpm test", 3), undefined);
    });

    test("code tokens lay out over exactly the inserted text, as the difficulty store places them", () => {
        const pieces = ["Try", ":\n\n", "```", "py", "\n", "for", " i", " in", " range", "(3", "):\n", "   ", " print", "(i", ")\n", "```"];
        const { text: reply, views } = message(pieces);
        const code = "for i in range(3):\n    print(i)";
        const line = reply.slice(0, reply.indexOf("for")).split("\n").length - 1;
        const tokens = codeTokens(reply, views, code, line);
        assert.ok(tokens);
        const tracked = layOut(100, tokens);
        assert.equal(tracked[0]?.start, 100);
        assert.equal(tracked.at(-1)?.end, 100 + code.length);
        assert.equal(tracked.map((token) => token.view.text).join(""), code);
        assert.equal(tracked.at(-1)?.view.text, ")", "the fence's line break is not part of the code");
    });
});
