// How the chat describes the engine: its state line, and an error as a message with a hint (from the error table).
import type { EngineState } from "../engineHost/EngineController.js";
import { describeEngineError, errorSentence } from "../engineHost/errorMessages.js";
import { percent } from "../ui/percent.js";
import type { ChatErrorView } from "./protocol.js";

export interface StateLine {
    readonly connected: boolean;
    readonly text: string;
    readonly canPickModel: boolean;
}

export function describeState(state: EngineState, modelSelected: boolean): StateLine {
    switch (state.kind) {
        case "idle":
            return modelSelected ? { connected: false, text: "The model loads with the first request.", canPickModel: false }
                : { connected: false, text: "No model selected.", canPickModel: true };
        case "loading":
            return { connected: false, text: `Loading the model… ${percent(state.fraction)}`, canPickModel: false };
        case "ready": {
            const kind = state.model.kind === "tah" ? "TaH" : "plain model: difficulty is a proxy";
            return { connected: true, text: `${state.model.name} (${kind}, ${state.model.backend})`, canPickModel: false };
        }
        case "failed": {
            const description = describeEngineError(state.error);
            return { connected: false, text: errorSentence(description), canPickModel: description.actions.includes("pickModel") };
        }
        case "crashed":
            return { connected: false, text: "The engine stopped unexpectedly and is restarting.", canPickModel: false };
    }
}

export function describeError(error: unknown): ChatErrorView {
    const { code, text, hint, actions } = describeEngineError(error);
    return { code, text, hint, ...(actions.includes("pickModel") ? { action: "pickModel" as const } : {}) };
}
