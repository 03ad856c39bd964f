// The status bar's words for each engine state (free of VS Code, so tests can check every case).
import type { EngineStats } from "../engine/protocol/engineProtocol.js";
import type { EngineState } from "../engineHost/EngineController.js";
import { describeEngineError, errorSentence } from "../engineHost/errorMessages.js";
import { percent } from "./percent.js";

/** The status text for an engine state (pure, so tests can check every case). */
export function statusText(state: EngineState, stats: EngineStats | undefined, hasModelSetting: boolean, inlineEnabled: boolean): { text: string; tooltip: string } {
    const inline = inlineEnabled ? "" : " (inline off)";
    if (!hasModelSetting)
        return { text: "$(sparkle) TaH: no model", tooltip: "TaH Copilot: no model selected (setting tah.modelPath). Click for the menu." };
    switch (state.kind) {
        case "ready": {
            const { model } = state;
            const parts = [`$(sparkle) TaH: ${model.name}${inline}`];
            if (stats?.tokensPerSecond != null)
                parts.push(`${stats.tokensPerSecond.toFixed(1)} t/s`);
            if (model.kind === "tah" && stats !== undefined && stats.generatedTokens > 0)
                parts.push(`${percent(stats.iteratedTokens / stats.generatedTokens)} iterated`);
            return {
                text: parts.join(" · "),
                tooltip: `${model.name} — ${model.kind === "tah" ? `TaH model, threshold ${model.threshold}` : "plain GGUF (difficulty is a proxy)"}, ${model.backend}, ${model.threads} threads, context ${model.contextSize}${model.hasFim ? ", fill-in-the-middle" : ", prefix-only completion (no FIM tokens)"}. Click for the menu.`
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
