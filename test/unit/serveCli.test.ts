/** `tah serve`'s command line refuses unsafe or malformed settings before it loads anything. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, test } from "node:test";

const root = path.resolve(import.meta.dirname, "..", "..");

function tah(...args: string[]): { status: number | null; stderr: string } {
    const result = spawnSync(process.execPath, [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), path.join(root, "src", "cli", "main.ts"), ...args], { encoding: "utf8" });
    return { status: result.status, stderr: result.stderr };
}

describe("tah serve's command line", () => {
    test("refuses to listen beyond loopback without an API key, and names the fix", () => {
        const result = tah("serve", "--model", "/nonexistent", "--host", "0.0.0.0");
        assert.equal(result.status, 2);
        assert.match(result.stderr, /--host 0\.0\.0\.0 reaches beyond this machine: give --api-key/);
    });

    test("refuses a bad port and a missing model with its usage", () => {
        const port = tah("serve", "--model", "/nonexistent", "--port", "http");
        assert.equal(port.status, 2);
        assert.match(port.stderr, /--port must be an integer/);
        const model = tah("serve");
        assert.equal(model.status, 2);
        assert.match(model.stderr, /--model is required[\s\S]*tah serve --model PATH/);
    });
});
