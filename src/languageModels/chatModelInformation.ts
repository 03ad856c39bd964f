// What VS Code's model picker shows of the loaded model. Free of VS Code (the shape is LanguageModelChatInformation's),
// so the unit tests check the mapping.
import type { ModelSummary } from "../engine/protocol/engineProtocol.js";

/** The vendor of package.json's contributes.languageModelChatProviders. */
export const languageModelVendor = "tah";

export interface ChatModelInformation {
    readonly id: string;
    readonly name: string;
    readonly family: string;
    readonly version: string;
    readonly detail: string;
    readonly tooltip: string;
    readonly maxInputTokens: number;
    readonly maxOutputTokens: number;
    readonly capabilities: { readonly toolCalling: boolean; readonly imageInput: boolean };
}

/**
 * The room of one answer: the chat's own limit, but never more than half the context, as the engine keeps no more for
 * the answer when it fits the prompt; the prompt gets the rest.
 */
function answerTokens(model: ModelSummary, chatMaxTokens: number): number {
    return Math.min(chatMaxTokens, Math.floor(model.contextSize / 2));
}

/**
 * The model as the picker lists it. Its id is its path, which tells two loads of the same name apart. Tools need the
 * model's chat template (Qwen3's, whose tool-call format the provider speaks); the engine reads no images.
 */
export function chatModelInformation(model: ModelSummary, chatMaxTokens: number): ChatModelInformation {
    const maxOutputTokens = answerTokens(model, chatMaxTokens);
    return {
        id: model.path,
        name: `TaH: ${model.name}`,
        family: model.kind === "tah" ? "tah" : "gguf",
        version: model.kind,
        detail: `${model.backend.toUpperCase()}, ${model.contextSize} tokens`,
        tooltip: `${model.kind === "tah" ? "Think-at-Hard" : "Plain"} model at ${model.path}, on ${model.backend}, context ${model.contextSize} tokens`,
        maxInputTokens: model.contextSize - maxOutputTokens,
        maxOutputTokens,
        capabilities: { toolCalling: model.hasChatTemplate, imageInput: false }
    };
}
