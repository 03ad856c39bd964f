// How the chat describes the engine: its state line, and an error as a message with a hint.
import type { EngineState } from "../engineClient/EngineClient.js";
import type { ChatErrorView } from "./protocol.js";

export interface StateLine {
    readonly connected: boolean;
    readonly text: string;
    readonly canPickModel: boolean;
}

export function describeState(state: EngineState, modelSelected: boolean): StateLine {
    const noModel = { connected: false, text: "No model selected.", canPickModel: true };
    switch (state.kind) {
        case "stopped":
            return modelSelected ? { connected: false, text: "The engine starts with the first request.", canPickModel: false } : noModel;
        case "starting":
            return { connected: false, text: "Starting the engine…", canPickModel: false };
        case "idle":
            return modelSelected ? { connected: false, text: "The engine is running; the model is not loaded yet.", canPickModel: false } : noModel;
        case "loading":
            return { connected: false, text: `Loading the model… ${Math.round(state.fraction * 100)}%`, canPickModel: false };
        case "ready": {
            const kind = state.model.kind === "tah" ? "TaH" : "plain model: difficulty is a proxy";
            return { connected: true, text: `${state.model.name} (${kind}, ${state.model.backend})`, canPickModel: false };
        }
        case "failed":
            return { connected: false, text: `The model could not be loaded: ${state.error.message}`, canPickModel: true };
        case "crashed":
            return { connected: false, text: "The engine stopped unexpectedly and is restarting.", canPickModel: false };
    }
}

/** The code of an EngineError (read from the object: a test's fake engine may come from another bundle). */
function errorCode(error: unknown): string {
    const code: unknown = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
    return typeof code === "string" ? code : "internal";
}

export function describeError(error: unknown): ChatErrorView {
    const code = errorCode(error);
    const message = error instanceof Error ? error.message : String(error);
    switch (code) {
        case "noModel":
            return { code, text: "No model is loaded.", hint: "Pick a model to chat with.", action: "pickModel" };
        case "modelFile":
            return { code, text: `The model could not be loaded: ${message}`, hint: "Pick another model, or check the file.", action: "pickModel" };
        case "crashed":
            return { code, text: "The engine stopped while answering.", hint: "The engine restarted and is loading the model again: try again in a moment." };
        case "stopped":
            return { code, text: "The engine was restarted before the answer was complete.", hint: "Try again." };
        case "contextFull":
            return { code, text: "The conversation does not fit in the model's context window.", hint: "Start a new chat, shorten the message or the attachment, or raise the setting tah.contextSize." };
        case "nativeBuild":
            return { code, text: `The engine's native build cannot run: ${message}`, hint: "See the log (TaH: Show Logs)." };
        default:
            return { code, text: `The engine failed: ${message}`, hint: "Try again; if it keeps failing, see the log (TaH: Show Logs)." };
    }
}
