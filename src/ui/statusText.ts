// The status bar's words for each engine state (free of VS Code, so tests can check every case).
import type { EngineStats } from "../engine/protocol/engineProtocol.js";
import type { EngineState } from "../engineHost/EngineController.js";
import { describeEngineError, errorSentence } from "../engineHost/errorMessages.js";
import { formatBytes } from "../format/formatBytes.js";
import { loadedMemoryBytes } from "../models/loadedMemory.js";
import { percent } from "./percent.js";

/** The generated tokens' mean deepest depth (0-based); undefined when the engine does not report it (or reports nonsense). */
export function meanDepth(stats: EngineStats): number | undefined {
    const { depthSum, generatedTokens } = stats;
    if (typeof depthSum !== "number" || !Number.isFinite(depthSum) || depthSum < 0 || !(generatedTokens > 0))
        return undefined;
    return depthSum / generatedTokens;
}

/** The status text for an engine state (pure, so tests can check every case). */
export function statusText(state: EngineState, stats: EngineStats | undefined, hasModelSetting: boolean, inlineEnabled: boolean): { text: string; tooltip: string } {
    const inline = inlineEnabled ? "" : " (inline off)";
    if (!hasModelSetting)
        return { text: "$(sparkle) TaH: no model", tooltip: "TaH Copilot: no model selected (settings tah.chat.model, tah.completion.model; TaH: Get a Model…). Click for the menu." };
    switch (state.kind) {
        case "ready": {
            const { model, completionModel } = state;
            const separate = completionModel.path !== model.path;
            // two models: the chat model's name, then the ghost-text one's
            const names = separate ? `${model.name} · ghost text: ${completionModel.name}` : model.name;
            const parts = [`$(sparkle) TaH: ${names}${inline}`];
            if (stats?.tokensPerSecond != null)
                parts.push(`${stats.tokensPerSecond.toFixed(1)} t/s`);
            const depth = model.kind === "tah" && stats !== undefined ? meanDepth(stats) : undefined;
            if (model.kind === "tah" && stats !== undefined && stats.generatedTokens > 0)
                parts.push(`${percent(stats.iteratedTokens / stats.generatedTokens)} iterated`);
            if (depth !== undefined)
                parts.push(`mean depth ${depth.toFixed(2)}`);
            const memory = loadedMemoryBytes([model, completionModel]);
            const describe = (summary: typeof model): string =>
                `${summary.name} — ${summary.kind === "tah" ? `TaH model, threshold ${summary.threshold}` : "plain GGUF (difficulty is a proxy)"}${summary.hasFim ? ", fill-in-the-middle" : ", prefix-only completion (no FIM tokens)"}`;
            const roles = separate ? `Chat: ${describe(model)}. Ghost text: ${describe(completionModel)}.` : `${describe(model)}.`;
            return {
                text: parts.join(" · "),
                tooltip: `${roles} ${model.backend}, ${model.threads} threads, context ${model.contextSize}${memory !== undefined ? `, ${formatBytes(memory)} loaded` : ""}.${depth !== undefined ? " Mean depth: how deep the generated tokens went, 0-based (0: none went past the first pass)." : ""} Click for the menu.`
            };
        }
        case "loading":
            return { text: `$(loading~spin) TaH: loading ${percent(state.fraction)}`, tooltip: "TaH Copilot: loading the model" };
        case "crashed":
            return { text: "$(warning) TaH: restarting", tooltip: `TaH Copilot: ${errorSentence({ text: describeEngineError(state.error).text, hint: "It is restarting." })}` };
        case "failed": {
            const description = describeEngineError(state.error);
            return { text: `$(error) TaH: ${description.status}`, tooltip: `TaH Copilot: ${errorSentence(description)} Click for the menu.` };
        }
        case "idle":
            return { text: `$(sparkle) TaH: not loaded${inline}`, tooltip: "TaH Copilot: the model loads on first use. Click for the menu." };
    }
}
