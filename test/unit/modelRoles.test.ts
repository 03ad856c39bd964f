/** One model per role: which model each role gets from the settings, and which models are loaded for them. */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { resolveModelRoles } from "../../src/models/modelRoles.js";

const base = path.resolve("/workspace");
const shipped = path.resolve("/ext/models/tah-code-default");

test("nothing set: every role uses the shipped model, loaded once", () => {
    const a = resolveModelRoles({}, shipped, base);
    assert.deepEqual(a.byRole, { completion: shipped, chat: shipped, analysis: shipped });
    assert.deepEqual(a.models, [{ path: shipped, roles: ["completion", "chat", "analysis"] }]);
});

test("a completion model and a chat model: two models; file analysis follows chat", () => {
    const a = resolveModelRoles({ completionModel: "/m/coder.gguf", chatModel: "/m/tah-plus" }, shipped, base);
    assert.deepEqual(a.byRole, { completion: path.resolve("/m/coder.gguf"), chat: path.resolve("/m/tah-plus"), analysis: path.resolve("/m/tah-plus") });
    assert.deepEqual(a.models.map((m) => [m.path, m.roles]), [[path.resolve("/m/coder.gguf"), ["completion"]], [path.resolve("/m/tah-plus"), ["chat", "analysis"]]]);
});

test("file analysis set on its own; the older tah.modelPath fills the roles not set; blank is unset", () => {
    const a = resolveModelRoles({ modelPath: "/m/old", chatModel: "  ", analysisModel: "/m/analysis" }, shipped, base);
    assert.deepEqual(a.byRole, { completion: path.resolve("/m/old"), chat: path.resolve("/m/old"), analysis: path.resolve("/m/analysis") });
    assert.equal(a.models.length, 2);
});

test("relative paths are taken from the base folder, and the same model named two ways is loaded once", () => {
    const a = resolveModelRoles({ completionModel: "models/x", chatModel: path.join(base, "models", "x") }, shipped, base);
    assert.deepEqual(a.models, [{ path: path.join(base, "models", "x"), roles: ["completion", "chat", "analysis"] }]);
});
