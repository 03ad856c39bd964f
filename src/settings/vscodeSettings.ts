// The settings readers of settings.ts bound to VS Code's configuration: what the features import.
import path from "node:path";
import * as vscode from "vscode";
import type { EngineSettings } from "../engine/protocol/engineProtocol.js";
import {
    type ChatSettings, readChatSettings, readEngineSettings, readEngineUrl, readHubEndpoint, readInlineCompletionSettings, readModelPaths, type SettingKey
} from "./settings.js";

let bundledModel: string | undefined;

/** The model the extension ships, used while no model setting is set (set once at activation). */
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

/** The chat model's and the completion model's files (completion null: the chat model's). */
export function modelPaths(): ReturnType<typeof readModelPaths> {
    return readModelPaths(configured, bundledModel);
}

export function bundledModelPath(): string | undefined {
    return bundledModel;
}

/** How Get a Model reaches the hub: tah.hub.endpoint, and VS Code's own proxy settings (http.proxy, http.proxyStrictSSL). */
export function hubConnection(): { endpoint: string | undefined; proxy: string | undefined; proxyStrictSSL: boolean } {
    const http = vscode.workspace.getConfiguration("http");
    const proxy = http.get<string>("proxy")?.trim();
    return { endpoint: readHubEndpoint(configured), proxy: proxy === "" ? undefined : proxy, proxyStrictSSL: http.get<boolean>("proxyStrictSSL") ?? true };
}

export function inlineCompletionSettings(): ReturnType<typeof readInlineCompletionSettings> {
    return readInlineCompletionSettings(configured);
}

export function chatSettings(): ChatSettings {
    return readChatSettings(configured);
}

/** The model settings (the older tah.modelPath included) whose value is `modelPath`: what deleting that model clears. */
export function settingsNaming(modelPath: string): SettingKey[] {
    const keys: SettingKey[] = ["tah.chat.model", "tah.completion.model", "tah.modelPath"];
    return keys.filter((key) => {
        const value = configured(key);
        return typeof value === "string" && value.trim() !== "" && path.resolve(value.trim()) === path.resolve(modelPath);
    });
}

/** Writes a setting for the user (all windows), as the settings editor would. */
export function updateSetting(key: SettingKey, value: unknown): Thenable<void> {
    return vscode.workspace.getConfiguration().update(key, value, vscode.ConfigurationTarget.Global);
}
