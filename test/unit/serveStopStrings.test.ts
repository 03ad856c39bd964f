/** tah serve's stop strings and llama-server's n_indent, fed token by token as the engine delivers text. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StopStrings } from "../../src/server/StopStrings.js";

/** Feeds the pieces; returns what was released after each, the final flush, and whether it stopped. */
function feed(stops: StopStrings, pieces: readonly string[]): { shown: string[]; flushed: string; stopped: boolean } {
    const shown = pieces.map((piece) => stops.push(piece));
    return { shown, flushed: stops.flush(), stopped: stops.stopped };
}

describe("stop strings", () => {
    test("cut before the stop string and show nothing of it, also when it spans tokens", () => {
        const result = feed(new StopStrings(["\n\n"]), ["a", "b\n", "\nc", "d"]);
        assert.deepEqual(result.shown, ["a", "b", "", ""]);
        assert.equal(result.stopped, true);
        assert.equal(result.flushed, "");
    });

    test("hold back only what may begin a stop string, and release it when it does not", () => {
        const stops = new StopStrings(["END"]);
        assert.equal(stops.push("xE"), "x");
        assert.equal(stops.push("N"), "");
        assert.equal(stops.push("d"), "ENd");
        assert.equal(stops.push("E"), "");
        assert.equal(stops.flush(), "E");
        assert.equal(stops.stopped, false);
        assert.equal(stops.releasedLength, 5);
    });

    test("the earliest of several stop strings wins", () => {
        const result = feed(new StopStrings(["world", "lo w"]), ["hello world"]);
        assert.deepEqual(result.shown, ["hel"]);
    });

    test("without stop strings everything passes at once", () => {
        assert.deepEqual(feed(new StopStrings([]), ["a", "b"]).shown, ["a", "b"]);
    });
});

describe("n_indent", () => {
    test("ends after the indentation of the first line indented less, keeping what came before", () => {
        const stops = new StopStrings([], 4);
        const shown = ["x\n", "        y\n", "  ", "z", "more"].map((piece) => stops.push(piece));
        assert.equal(shown.join(""), "x\n        y\n  ");
        assert.equal(stops.stopped, true);
    });

    test("waits while a new line holds only whitespace, and lines indented enough pass", () => {
        const stops = new StopStrings([], 2);
        assert.equal(stops.push("a\n  "), "a\n  ");
        assert.equal(stops.stopped, false);
        assert.equal(stops.push("b\n  c"), "b\n  c");
        assert.equal(stops.stopped, false);
        assert.equal(stops.push("\nd"), "\n");
        assert.equal(stops.stopped, true);
    });
});
