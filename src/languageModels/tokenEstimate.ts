// Token counts for VS Code's prompt budgeting when the engine cannot answer (no model loaded yet, the engine
// restarting): an estimate that errs high, so VS Code trims a prompt a little early instead of sending one the engine
// must cut. With a model loaded the count comes from its own tokenizer (TahChatModelProvider.provideTokenCount).
import type { RequestMessage } from "./requestMessages.js";

/** Qwen3's tokenizer averages about 3.5–4 characters a token on code and English; 3 keeps the estimate above it. */
const charsPerToken = 3;
/** `<|im_start|>role\n` … `<|im_end|>\n` around each message of the template. */
export const tokensPerMessage = 5;

/** The text of a message as the template lays it out (tool calls as their name and JSON arguments). */
export function messageText(message: RequestMessage): string {
    return message.parts.map((part) => part.kind === "text" ? part.text : part.kind === "toolCall" ? `${part.name}${JSON.stringify(part.input)}` : part.content).join("");
}

export function estimateTextTokens(text: string): number {
    return Math.ceil(text.length / charsPerToken);
}

export function estimateMessageTokens(message: RequestMessage): number {
    return tokensPerMessage + estimateTextTokens(messageText(message));
}
