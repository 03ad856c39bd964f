// Token counts for VS Code's prompt budgeting. The engine protocol has no tokenize request (the engine service, which
// holds the tokenizer, is not extended here), so this estimates, erring high: VS Code then trims a prompt a little
// early instead of sending one that the engine must cut.
import type { RequestMessage } from "./requestMessages.js";

/** Qwen3's tokenizer averages about 3.5–4 characters a token on code and English; 3 keeps the estimate above it. */
const charsPerToken = 3;
/** `<|im_start|>role\n` … `<|im_end|>\n` around each message of the template. */
const tokensPerMessage = 5;

export function estimateTextTokens(text: string): number {
    return Math.ceil(text.length / charsPerToken);
}

export function estimateMessageTokens(message: RequestMessage): number {
    const text = message.parts.map((part) => part.kind === "text" ? part.text : part.kind === "toolCall" ? `${part.name}${JSON.stringify(part.input)}` : part.content).join("");
    return tokensPerMessage + estimateTextTokens(text);
}
