import type { ChatMessage } from "../engine/protocol/engineProtocol.js";
import type { ChatRequestMessage } from "./openAiSchemas.js";
import { assistantWithToolCalls, toolResponsesText, toolsSystemText, type ToolDefinition } from "../engine/prompts/qwen3Tools.js";

function text(content: string | Array<{ text: string }> | null | undefined): string {
    if (content === null || content === undefined)
        return "";
    return typeof content === "string" ? content : content.map((part) => part.text).join("");
}

/**
 * OpenAI messages as the engine's conversation, in Qwen3's tool format: system and developer messages become one
 * system message (the template has one) with the tools appended, an assistant's tool calls become `<tool_call>`
 * blocks of its turn, and consecutive tool results one user turn of `<tool_response>` blocks.
 */
export function toEngineMessages(messages: readonly ChatRequestMessage[], tools: readonly ToolDefinition[]): ChatMessage[] {
    const system = messages.filter((message) => message.role === "system" || message.role === "developer").map((message) => text(message.content));
    if (tools.length > 0)
        system.push(toolsSystemText(tools));
    const result: ChatMessage[] = system.length > 0 ? [{ role: "system", content: system.join("\n\n") }] : [];
    let toolResults: string[] = [];
    const endToolResults = (): void => {
        if (toolResults.length > 0)
            result.push({ role: "user", content: toolResponsesText(toolResults) });
        toolResults = [];
    };
    for (const message of messages) {
        if (message.role === "tool") {
            toolResults.push(text(message.content));
            continue;
        }
        endToolResults();
        if (message.role === "user")
            result.push({ role: "user", content: text(message.content) });
        else if (message.role === "assistant") {
            const calls = (message.tool_calls ?? []).map((call) => ({ name: call.function.name, arguments: call.function.arguments }));
            result.push({ role: "assistant", content: assistantWithToolCalls(text(message.content), calls) });
        }
    }
    endToolResults();
    return result;
}
