// VS Code's chat request messages as the engine's conversation, in Qwen3's tool format. Free of VS Code: the provider
// turns VS Code's part classes into these plain parts first, so the unit tests drive the conversion directly.
import { assistantWithToolCalls, pythonJson, type ToolDefinition, toolResponsesText, toolsSystemText } from "../engine/prompts/qwen3Tools.js";
import type { ChatMessage } from "../engine/protocol/engineProtocol.js";

export type RequestPart =
    | { readonly kind: "text"; readonly text: string }
    | { readonly kind: "toolCall"; readonly callId: string; readonly name: string; readonly input: object }
    /** A tool's result, its text parts joined (the engine reads text only). */
    | { readonly kind: "toolResult"; readonly callId: string; readonly content: string };

export interface RequestMessage {
    readonly role: "system" | "user" | "assistant";
    readonly parts: readonly RequestPart[];
}

export interface RequestTool {
    readonly name: string;
    readonly description: string;
    readonly inputSchema?: object;
}

/** What the model is told when it must call a tool (VS Code's LanguageModelChatToolMode.Required). */
export const toolRequiredText = "You must answer with a call to one of these functions.";

function textOf(parts: readonly RequestPart[]): string {
    return parts.flatMap((part) => part.kind === "text" ? [part.text] : []).join("");
}

/** Tools as the template describes them in the system message (OpenAI's function form, which it writes verbatim). */
export function toolDefinitions(tools: readonly RequestTool[]): ToolDefinition[] {
    return tools.map((tool) => ({ type: "function", function: { name: tool.name, description: tool.description, parameters: tool.inputSchema } }));
}

/**
 * The engine's messages: system messages (VS Code sends them with a role outside the public enum) and the tools become
 * the one system message the template has; an assistant's tool calls become `<tool_call>` blocks of its turn, written
 * as the template writes them; tool results become `<tool_response>` blocks of a user turn, before that turn's text.
 */
export function toEngineMessages(messages: readonly RequestMessage[], tools: readonly RequestTool[], toolRequired: boolean): ChatMessage[] {
    const system = messages.filter((message) => message.role === "system").map((message) => textOf(message.parts));
    if (tools.length > 0)
        system.push(toolRequired ? `${toolsSystemText(toolDefinitions(tools))}\n\n${toolRequiredText}` : toolsSystemText(toolDefinitions(tools)));
    const result: ChatMessage[] = system.length > 0 ? [{ role: "system", content: system.join("\n\n") }] : [];
    for (const message of messages) {
        if (message.role === "assistant") {
            const calls = message.parts.flatMap((part) => part.kind === "toolCall" ? [{ name: part.name, arguments: pythonJson(part.input) }] : []);
            result.push({ role: "assistant", content: assistantWithToolCalls(textOf(message.parts), calls) });
        } else if (message.role === "user") {
            const results = message.parts.flatMap((part) => part.kind === "toolResult" ? [part.content] : []);
            const text = textOf(message.parts);
            const content = [...(results.length > 0 ? [toolResponsesText(results)] : []), ...(text !== "" ? [text] : [])].join("\n");
            result.push({ role: "user", content });
        }
    }
    return result;
}
