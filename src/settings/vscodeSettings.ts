// The settings readers of settings.ts bound to VS Code's configuration: what the features import.
import * as vscode from "vscode";
import type { EngineSettings } from "../engine/protocol/engineProtocol.js";
import {
    type ChatSettings, readChatSettings, readEngineSettings, readEngineUrl, readInlineCompletionSettings, type SettingKey
} from "./settings.js";

let bundledModel: string | undefined;

/** The model the extension ships, used while tah.modelPath is empty (set once at activation). */
export function setBundledModel(modelPath: string | undefined): void {
    bundledModel = modelPath;
}

/** VS Code's value for the key: the user's, else the manifest's default (undefined only for an undeclared key). */
function configured(key: SettingKey): unknown {
    return vscode.workspace.getConfiguration().get(key);
}

export function engineSettings(): EngineSettings | undefined {
    return readEngineSettings(configured, bundledModel);
}

export function engineUrl(): string | undefined {
    return readEngineUrl(configured);
}

export function inlineCompletionSettings(): ReturnType<typeof readInlineCompletionSettings> {
    return readInlineCompletionSettings(configured);
}

export function chatSettings(): ChatSettings {
    return readChatSettings(configured);
}

/** Writes a setting for the user (all windows), as the settings editor would. */
export function updateSetting(key: SettingKey, value: unknown): Thenable<void> {
    return vscode.workspace.getConfiguration().update(key, value, vscode.ConfigurationTarget.Global);
}
