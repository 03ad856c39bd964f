import type { AnswerStats } from "../../src/chat/protocol.js";
import { percent } from "../../src/ui/percent.js";

/** The line under an answer: tokens, speed, the share that took the second pass, and why it ended early. */
export function statsLine(stats: AnswerStats): string {
    const iterated = stats.generatedTokens > 0 ? stats.iteratedTokens / stats.generatedTokens : 0;
    const parts = [
        `${stats.generatedTokens} ${stats.generatedTokens === 1 ? "token" : "tokens"}`,
        `${stats.tokensPerSecond.toFixed(1)} tokens/s`,
        `${percent(iterated)} iterated`,
    ];
    if (stats.stopReason === "maxTokens")
        parts.push("cut at the limit (tah.chat.maxTokens)");
    if (stats.droppedMessages > 0)
        parts.push(`${stats.droppedMessages} earlier ${stats.droppedMessages === 1 ? "message" : "messages"} left out to fit the context`);
    return parts.join(" · ");
}
