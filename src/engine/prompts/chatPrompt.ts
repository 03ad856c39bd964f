import { Template } from "@huggingface/jinja";
import type { ChatMessage } from "../protocol/engineProtocol.js";
import type { TahModel } from "../model/TahModel.js";
import { EngineError } from "../protocol/engineError.js";

export interface ChatPrompt {
    tokens: number[];
    /** Oldest messages left out to fit the budget. */
    droppedMessages: number;
    usedFallbackTemplate: boolean;
}

/** Qwen3's ChatML layout, used when a model carries no chat template or its template does not render. */
function chatMl(messages: readonly ChatMessage[], enableThinking: boolean): string {
    const turns = messages.map((message) => `<|im_start|>${message.role}\n${message.content}<|im_end|>\n`).join("");
    return `${turns}<|im_start|>assistant\n${enableThinking ? "" : "<think>\n\n</think>\n\n"}`;
}

function render(model: TahModel, messages: readonly ChatMessage[], enableThinking: boolean): { text: string; fallback: boolean } {
    const source = model.chatTemplate;
    if (source !== undefined) {
        try {
            const text = new Template(source).render({
                messages,
                add_generation_prompt: true,
                enable_thinking: enableThinking,
                bos_token: "",
                eos_token: ""
            });
            return { text, fallback: false };
        } catch {
            // a template using Jinja features the renderer lacks: ChatML is what Qwen3 templates produce
        }
    }
    return { text: chatMl(messages, enableThinking), fallback: true };
}

/**
 * Renders the conversation with the model's own chat template and tokenizes it (special tokens parsed).
 * When it exceeds the budget, the oldest turns after the system message are left out; the last user
 * message always stays, and if it alone does not fit, a contextFull EngineError says so.
 */
export function buildChatPrompt(model: TahModel, messages: readonly ChatMessage[], budget: number, enableThinking: boolean): ChatPrompt {
    const system = messages.filter((message) => message.role === "system").slice(0, 1);
    const turns = messages.filter((message) => message.role !== "system");
    for (let dropped = 0; dropped < turns.length; dropped++) {
        const kept = [...system, ...turns.slice(dropped)];
        const { text, fallback } = render(model, kept, enableThinking);
        const tokens = model.tokenize(text, true);
        if (tokens.length <= budget)
            return { tokens, droppedMessages: dropped, usedFallbackTemplate: fallback };
    }
    throw new EngineError("contextFull", `the last message alone is longer than the context allows (${budget} tokens); shorten it or raise tah.contextSize`);
}
