// The conversation as the engine gets it: chat messages with attachments written out, reasoning left out.
import type { ChatMessage } from "../engine/protocol/engineProtocol.js";
import type { Attachment, StoredMessage } from "./ChatHistory.js";
import { splitThinking } from "./thinking.js";

/** A Markdown code fence longer than any run of backticks in `text`, so the text cannot close it. */
export function fenceFor(text: string): string {
    const longest = Math.max(0, ...Array.from(text.matchAll(/`+/g), (match) => match[0].length));
    return "`".repeat(Math.max(3, longest + 1));
}

export function attachmentBlock(attachment: Attachment): string {
    const fence = fenceFor(attachment.text);
    const body = attachment.text.endsWith("\n") ? attachment.text : `${attachment.text}\n`;
    return `${attachment.label}:\n${fence}${attachment.languageId}\n${body}${fence}`;
}

export function userContent(message: StoredMessage): string {
    return message.attachment === undefined ? message.text : `${attachmentBlock(message.attachment)}\n\n${message.text}`;
}

/**
 * The engine's messages for the conversation, whose last message is the new question. Answers go without their
 * reasoning (Qwen3's templates drop it too); a question whose answer failed is left out, so it is not asked twice;
 * the oldest turns go first when the text exceeds `maxChars` (the engine then fits the rest to its context window).
 */
export function engineMessages(history: readonly StoredMessage[], systemPrompt: string, maxChars: number): ChatMessage[] {
    const turns: ChatMessage[] = [];
    history.forEach((message, index) => {
        if (message.role === "assistant") {
            const answer = splitThinking(message.text).answer.trim();
            if (answer !== "")
                turns.push({ role: "assistant", content: answer });
            return;
        }
        const next = history[index + 1];
        const answered = next?.role === "assistant" && splitThinking(next.text).answer.trim() !== "";
        if (next === undefined || answered)
            turns.push({ role: "user", content: userContent(message) });
    });
    let first = turns.length - 1;
    let chars = turns[first]?.content.length ?? 0;
    while (first > 0 && chars + (turns[first - 1]?.content.length ?? 0) <= maxChars) {
        first--;
        chars += turns[first]?.content.length ?? 0;
    }
    while (first < turns.length - 1 && turns[first]?.role === "assistant")
        first++;
    const system: ChatMessage[] = systemPrompt.trim() === "" ? [] : [{ role: "system", content: systemPrompt.trim() }];
    return [...system, ...turns.slice(first)];
}
