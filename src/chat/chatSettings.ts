import * as vscode from "vscode";
import { defaultSystemPrompt } from "./chatRequest.js";

export interface ChatSettings {
    readonly maxTokens: number;
    readonly enableThinking: boolean;
    readonly systemPrompt: string;
}

/** The `tah.chat.*` settings (package.json declares them with the same defaults). */
export function chatSettings(): ChatSettings {
    const config = vscode.workspace.getConfiguration("tah.chat");
    const maxTokens = config.get<number>("maxTokens", 1024);
    return {
        // the engine refuses a request outside 1–32768 tokens; a hand-edited setting is brought into range
        maxTokens: Number.isFinite(maxTokens) ? Math.min(32_768, Math.max(1, Math.floor(maxTokens))) : 1024,
        enableThinking: config.get<boolean>("enableThinking", false) === true,
        systemPrompt: String(config.get<string>("systemPrompt", defaultSystemPrompt)),
    };
}
