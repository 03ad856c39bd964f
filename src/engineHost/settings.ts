import * as vscode from "vscode";
import type { InlineCompletionSettings } from "../completion/InlineCompletionService.js";
import type { HardTokenPolicy } from "../completion/postProcess.js";
import type { MultilineSetting } from "../completion/multilinePolicy.js";
import type { EngineSettings, GpuSetting } from "../engine/protocol/engineProtocol.js";

let bundledModel: string | undefined;

/** The model the extension ships, used while tah.modelPath is empty (set once at activation). */
export function setBundledModel(modelPath: string | undefined): void {
    bundledModel = modelPath;
}

/** The engine's settings, or undefined when no model is selected and none is bundled. */
export function engineSettings(): EngineSettings | undefined {
    const config = vscode.workspace.getConfiguration("tah");
    const modelPath = config.get<string>("modelPath", "").trim() || bundledModel;
    if (modelPath === undefined)
        return undefined;
    return {
        modelPath,
        gpu: config.get<GpuSetting>("gpu", "auto"),
        threads: config.get<number>("threads", 0),
        contextSize: config.get<number>("contextSize", 8192),
        threshold: config.get<number | null>("decider.threshold", null)
    };
}

export function inlineCompletionSettings(): InlineCompletionSettings & { enabled: boolean } {
    const config = vscode.workspace.getConfiguration("tah.inlineCompletion");
    return {
        enabled: config.get<boolean>("enabled", true),
        debounceMs: config.get<number>("debounceMs", 200),
        adaptiveDebounce: config.get<boolean>("adaptiveDebounce", true),
        maxTokens: config.get<number>("maxTokens", 64),
        maxMs: config.get<number>("maxMs", 1500),
        multiline: config.get<MultilineSetting>("multiline", "auto"),
        maxLines: config.get<number>("maxLines", 8),
        maxLineSuffix: config.get<number>("maxLineSuffix", 8),
        prefixLines: config.get<number>("prefixLines", 256),
        suffixLines: config.get<number>("suffixLines", 64),
        maxPrefixChars: config.get<number>("maxPrefixChars", 16_000),
        maxSuffixChars: config.get<number>("maxSuffixChars", 4000),
        hardTokenPolicy: config.get<HardTokenPolicy>("hardTokenPolicy", "off"),
        hardTokenThreshold: config.get<number>("hardTokenThreshold", 0.9),
        cacheSize: 250
    };
}
