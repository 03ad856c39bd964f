// Every setting the extension reads, read in one place. package.json's contributes.configuration is the truth:
// a key it does not declare does not type-check, a default comes from it (there is no second one here), and a
// number outside its declared range is brought into it (VS Code only warns about one in settings.json).
// Free of VS Code: the readers take where values come from, so the unit tests can pass their own.
import manifest from "../../package.json" with { type: "json" };
import type { InlineCompletionSettings } from "../completion/InlineCompletionService.js";
import type { MultilineSetting } from "../completion/multilinePolicy.js";
import type { HardTokenPolicy } from "../completion/postProcess.js";
import type { EngineSettings, GpuSetting } from "../engine/protocol/engineProtocol.js";

const declared = manifest.contributes.configuration.properties;

export type SettingKey = keyof typeof declared;

interface Declaration {
    readonly type: string | readonly string[];
    readonly default: unknown;
    readonly minimum?: number;
    readonly maximum?: number;
    readonly enum?: readonly string[];
}

export function declaration(key: SettingKey): Declaration {
    return declared[key];
}

/** The user's value of a key (VS Code's configuration in the product); undefined where none is set. */
export type SettingsSource = (key: SettingKey) => unknown;

function readString(source: SettingsSource, key: SettingKey): string {
    const value = source(key);
    return typeof value === "string" ? value : declaration(key).default as string;
}

function readBoolean(source: SettingsSource, key: SettingKey): boolean {
    const value = source(key);
    return typeof value === "boolean" ? value : declaration(key).default as boolean;
}

function readChoice<T extends string>(source: SettingsSource, key: SettingKey): T {
    const value = source(key);
    const { enum: choices = [], default: fallback } = declaration(key);
    return (typeof value === "string" && choices.includes(value) ? value : fallback) as T;
}

function readNumber(source: SettingsSource, key: SettingKey): number {
    const value = source(key);
    const { type, minimum = -Infinity, maximum = Infinity, default: fallback } = declaration(key);
    if (typeof value !== "number" || !Number.isFinite(value))
        return fallback as number;
    const inRange = Math.min(maximum, Math.max(minimum, value));
    return type === "integer" ? Math.floor(inRange) : inRange;
}

function readNullableNumber(source: SettingsSource, key: SettingKey): number | null {
    return source(key) === null ? null : readNumber(source, key);
}

/** The keys whose change means another model load (the engine settings, and where the engine runs). */
export const engineSettingKeys: readonly SettingKey[] = [
    "tah.chat.model", "tah.completion.model", "tah.modelPath", "tah.gpu", "tah.threads", "tah.contextSize", "tah.decider.threshold", "tah.engine.url"
];

/** The remote engine's URL (tah.engine.url), undefined when the engine runs here (RemoteEngineClient checks its form). */
export function readEngineUrl(source: SettingsSource): string | undefined {
    const value = readString(source, "tah.engine.url").trim().replace(/\/+$/, "");
    return value === "" ? undefined : value;
}

/**
 * The model file of each role. `tah.modelPath` is the older name of `tah.chat.model`, read as a fallback (not
 * migrated: a user's settings.json is theirs, and an older version of the extension on another machine sharing it
 * still reads the old key). The completion model is null when it is the chat model's file.
 */
export function readModelPaths(source: SettingsSource, bundledModel: string | undefined): { chat: string; completion: string | null } | undefined {
    const chat = readString(source, "tah.chat.model").trim() || readString(source, "tah.modelPath").trim() || bundledModel;
    if (chat === undefined)
        return undefined;
    const completion = readString(source, "tah.completion.model").trim();
    return { chat, completion: completion === "" || completion === chat ? null : completion };
}

/** The engine's settings, or undefined when no model is selected and none is bundled. */
export function readEngineSettings(source: SettingsSource, bundledModel: string | undefined): EngineSettings | undefined {
    const models = readModelPaths(source, bundledModel);
    if (models === undefined)
        return undefined;
    return {
        modelPath: models.chat,
        completionModelPath: models.completion,
        gpu: readChoice<GpuSetting>(source, "tah.gpu"),
        threads: readNumber(source, "tah.threads"),
        contextSize: readNumber(source, "tah.contextSize"),
        threshold: readNullableNumber(source, "tah.decider.threshold")
    };
}

/** Where `TaH: Get a Model…` downloads from: the setting, else HF_ENDPOINT, else the hub's own (HubClient decides). */
export function readHubEndpoint(source: SettingsSource): string | undefined {
    return readString(source, "tah.hub.endpoint").trim() || undefined;
}

/** Suggestions kept for type-through (not a setting: a bound on memory). */
const completionCacheSize = 250;

export function readInlineCompletionSettings(source: SettingsSource): InlineCompletionSettings & { enabled: boolean } {
    return {
        enabled: readBoolean(source, "tah.inlineCompletion.enabled"),
        debounceMs: readNumber(source, "tah.inlineCompletion.debounceMs"),
        adaptiveDebounce: readBoolean(source, "tah.inlineCompletion.adaptiveDebounce"),
        maxTokens: readNumber(source, "tah.inlineCompletion.maxTokens"),
        maxMs: readNumber(source, "tah.inlineCompletion.maxMs"),
        multiline: readChoice<MultilineSetting>(source, "tah.inlineCompletion.multiline"),
        maxLines: readNumber(source, "tah.inlineCompletion.maxLines"),
        maxLineSuffix: readNumber(source, "tah.inlineCompletion.maxLineSuffix"),
        prefixLines: readNumber(source, "tah.inlineCompletion.prefixLines"),
        suffixLines: readNumber(source, "tah.inlineCompletion.suffixLines"),
        maxPrefixChars: readNumber(source, "tah.inlineCompletion.maxPrefixChars"),
        maxSuffixChars: readNumber(source, "tah.inlineCompletion.maxSuffixChars"),
        hardTokenPolicy: readChoice<HardTokenPolicy>(source, "tah.inlineCompletion.hardTokenPolicy"),
        hardTokenThreshold: readNumber(source, "tah.inlineCompletion.hardTokenThreshold"),
        cacheSize: completionCacheSize
    };
}

export interface ChatSettings {
    readonly maxTokens: number;
    readonly enableThinking: boolean;
    readonly systemPrompt: string;
}

export function readChatSettings(source: SettingsSource): ChatSettings {
    return {
        maxTokens: readNumber(source, "tah.chat.maxTokens"),
        enableThinking: readBoolean(source, "tah.chat.enableThinking"),
        systemPrompt: readString(source, "tah.chat.systemPrompt")
    };
}
