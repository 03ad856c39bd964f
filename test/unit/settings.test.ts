// package.json's contributes.configuration is the one source of the settings: what the code reads is declared, the
// defaults come from it, and the engine protocol accepts exactly the range it declares.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import type { z } from "zod";
import manifest from "../../package.json" with { type: "json" };
import { paramSchemas } from "../../src/engine/process/requestSchemas.js";
import {
    declaration, engineSettingKeys, readChatSettings, readEngineSettings, readEngineUrl, readHubEndpoint, readInlineCompletionSettings, type SettingKey, type SettingsSource
} from "../../src/settings/settings.js";

const declaredKeys = Object.keys(manifest.contributes.configuration.properties) as SettingKey[];

/** Reads every setting from `values`, recording the keys asked for. */
function readAll(values: Partial<Record<SettingKey, unknown>> = {}): { read: Set<string>; settings: Record<string, unknown> } {
    const read = new Set<string>();
    const source: SettingsSource = (key) => {
        read.add(key);
        return values[key];
    };
    const settings = {
        ...readEngineSettings(source, "/bundled"),
        engineUrl: readEngineUrl(source),
        hubEndpoint: readHubEndpoint(source),
        ...Object.fromEntries(Object.entries(readInlineCompletionSettings(source)).map(([key, value]) => [`inline.${key}`, value])),
        ...Object.fromEntries(Object.entries(readChatSettings(source)).map(([key, value]) => [`chat.${key}`, value]))
    };
    return { read, settings };
}

describe("settings from package.json", () => {
    test("every key the code reads is declared, and every declared key is read", () => {
        const { read } = readAll();
        assert.deepEqual([...read].sort(), [...declaredKeys].sort());
    });

    test("tah.engine.url: empty runs the engine here; a URL is trimmed of spaces and trailing slashes", () => {
        assert.equal(readAll().settings.engineUrl, undefined);
        assert.equal(readAll({ "tah.engine.url": "  http://gpu-box:8080// " }).settings.engineUrl, "http://gpu-box:8080");
    });

    test("with nothing set, each reader gives the declared default", () => {
        const { settings } = readAll();
        assert.equal(settings.gpu, declaration("tah.gpu").default);
        assert.equal(settings.contextSize, declaration("tah.contextSize").default);
        assert.equal(settings.threshold, declaration("tah.decider.threshold").default);
        assert.equal(settings.modelPath, "/bundled", "an empty tah.modelPath is the bundled model");
        assert.equal(settings["inline.maxPrefixChars"], declaration("tah.inlineCompletion.maxPrefixChars").default);
        assert.equal(settings["inline.hardTokenPolicy"], declaration("tah.inlineCompletion.hardTokenPolicy").default);
        assert.equal(settings["chat.systemPrompt"], declaration("tah.chat.systemPrompt").default);
        assert.equal(settings["chat.maxTokens"], declaration("tah.chat.maxTokens").default);
    });

    test("a hand-edited value outside the declared range or choices is brought into it", () => {
        const { settings } = readAll({
            "tah.contextSize": 10, "tah.chat.maxTokens": 1e9, "tah.threads": 2.7, "tah.gpu": "metal",
            "tah.inlineCompletion.maxTokens": Number.NaN, "tah.inlineCompletion.enabled": "yes", "tah.modelPath": "  /m  "
        });
        assert.equal(settings.contextSize, declaration("tah.contextSize").minimum);
        assert.equal(settings["chat.maxTokens"], declaration("tah.chat.maxTokens").maximum);
        assert.equal(settings.threads, 2);
        assert.equal(settings.gpu, "auto");
        assert.equal(settings["inline.maxTokens"], declaration("tah.inlineCompletion.maxTokens").default);
        assert.equal(settings["inline.enabled"], true);
        assert.equal(settings.modelPath, "/m");
        assert.equal(readAll({ "tah.decider.threshold": null }).settings.threshold, null);
        assert.equal(readAll({ "tah.decider.threshold": 0.25 }).settings.threshold, 0.25);
    });

    test("no module outside src/settings reads VS Code's configuration", () => {
        const root = path.resolve(import.meta.dirname, "..", "..", "src");
        const offenders = fs.readdirSync(root, { recursive: true, encoding: "utf8" })
            .filter((file) => file.endsWith(".ts") && !file.startsWith(`settings${path.sep}`))
            .filter((file) => fs.readFileSync(path.join(root, file), "utf8").includes("getConfiguration("));
        assert.deepEqual(offenders, []);
    });
});

describe("a model per role", () => {
    const engine = (values: Partial<Record<SettingKey, unknown>>) => readEngineSettings((key) => values[key], "/bundled");

    test("tah.chat.model names the chat model; tah.completion.model the completion model", () => {
        const settings = engine({ "tah.chat.model": "/models/tah-plus", "tah.completion.model": "/models/coder.gguf" });
        assert.equal(settings?.modelPath, "/models/tah-plus");
        assert.equal(settings?.completionModelPath, "/models/coder.gguf");
    });

    test("an empty completion model, or the chat model's own file, is the chat model (null)", () => {
        assert.equal(engine({ "tah.chat.model": "/m" })?.completionModelPath, null);
        assert.equal(engine({ "tah.chat.model": "/m", "tah.completion.model": "  " })?.completionModelPath, null);
        assert.equal(engine({ "tah.chat.model": "/m", "tah.completion.model": "/m" })?.completionModelPath, null);
    });

    test("the older tah.modelPath is the chat model while tah.chat.model is empty, and only then", () => {
        assert.equal(engine({ "tah.modelPath": "/old" })?.modelPath, "/old");
        assert.equal(engine({ "tah.modelPath": "/old", "tah.chat.model": "/new" })?.modelPath, "/new");
        assert.equal(engine({ "tah.modelPath": "/old", "tah.completion.model": "/coder" })?.completionModelPath, "/coder");
    });

    test("no model set: the bundled model serves chat, and with none bundled there is no engine setting", () => {
        assert.equal(engine({})?.modelPath, "/bundled");
        assert.equal(readEngineSettings((key) => (key === "tah.completion.model" ? "/coder" : undefined), undefined), undefined);
    });

    test("changing either role's model reloads the engine", () => {
        for (const key of ["tah.chat.model", "tah.completion.model", "tah.modelPath"] as const)
            assert.ok(engineSettingKeys.includes(key), key);
    });

    test("the hub endpoint setting is trimmed, and empty leaves the choice to HF_ENDPOINT", () => {
        assert.equal(readHubEndpoint((key) => (key === "tah.hub.endpoint" ? " http://127.0.0.1:9/ " : undefined)), "http://127.0.0.1:9/");
        assert.equal(readHubEndpoint(() => ""), undefined);
    });
});

describe("the engine protocol's bounds are the manifest's", () => {
    const fields: Array<[method: "load" | "complete" | "chat", field: string, key: SettingKey]> = [
        ["load", "threads", "tah.threads"],
        ["load", "contextSize", "tah.contextSize"],
        ["load", "threshold", "tah.decider.threshold"],
        ["complete", "maxTokens", "tah.inlineCompletion.maxTokens"],
        ["complete", "maxMs", "tah.inlineCompletion.maxMs"],
        ["complete", "maxLines", "tah.inlineCompletion.maxLines"],
        ["chat", "maxTokens", "tah.chat.maxTokens"]
    ];
    for (const [method, field, key] of fields) {
        test(`${method}.${field} accepts exactly ${key}'s range`, () => {
            const shape = (paramSchemas[method] as z.ZodObject<Record<string, z.ZodType>>).shape;
            const schema = shape[field];
            assert.ok(schema !== undefined, `${method} has ${field}`);
            const number = ("unwrap" in schema ? (schema as z.ZodNullable<z.ZodNumber>).unwrap() : schema) as z.ZodNumber;
            const { minimum, maximum } = declaration(key);
            assert.equal(number.minValue, minimum, "minimum");
            assert.equal(number.maxValue, maximum, "maximum");
        });
    }

    test("the backends the engine accepts are the manifest's choices", () => {
        const shape = (paramSchemas.load as z.ZodObject<{ gpu: z.ZodEnum }>).shape;
        assert.deepEqual([...shape.gpu.options].sort(), [...(declaration("tah.gpu").enum ?? [])].sort());
    });
});
