/**
 * Qwen3's tool-call format, as its chat template writes it: the tools' JSON schemas in the system message, each call
 * the model makes as `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>`, and tool results as a user turn of
 * `<tool_response>` blocks. Pure text: the engine renders the conversation with these as ordinary message contents;
 * tah serve and the VS Code language model provider both write and read it here.
 */

export interface ToolDefinition {
    type: "function";
    function: { name: string; description?: string; parameters?: unknown };
}

export interface ToolCall {
    name: string;
    /** The arguments as a JSON text (OpenAI's wire form). */
    arguments: string;
}

/** JSON the way the template's `tojson` (Python's json.dumps) writes it: ", " and ": " separators, key order kept. */
export function pythonJson(value: unknown): string {
    if (Array.isArray(value))
        return `[${value.map(pythonJson).join(", ")}]`;
    if (typeof value === "object" && value !== null)
        return `{${Object.entries(value).filter(([, item]) => item !== undefined).map(([key, item]) => `${JSON.stringify(key)}: ${pythonJson(item)}`).join(", ")}}`;
    return JSON.stringify(value) ?? "null";
}

/** What the template appends to the system message (after a blank line) when the request has tools. */
export function toolsSystemText(tools: readonly ToolDefinition[]): string {
    return "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
        + tools.map((tool) => `\n${pythonJson(tool)}`).join("")
        + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
        + "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>";
}

/** Arguments as the object they encode, so they are written back as the template writes an object; else the text. */
function jsonOrText(text: string): unknown {
    try {
        return JSON.parse(text) as unknown;
    } catch {
        return text;
    }
}

/** An assistant turn that called tools, as the template writes it back into the conversation. */
export function assistantWithToolCalls(content: string, calls: readonly ToolCall[]): string {
    // as JSON, not pasted: a name with a quote or arguments that are not one JSON object must not end the block early
    const blocks = calls.map((call) => `<tool_call>\n${pythonJson({ name: call.name, arguments: jsonOrText(call.arguments) })}\n</tool_call>`);
    return content === "" ? blocks.join("\n") : [content, ...blocks].join("\n");
}

/** Consecutive tool results: one user turn, one `<tool_response>` block each. */
export function toolResponsesText(results: readonly string[]): string {
    return results.map((result) => `<tool_response>\n${result}\n</tool_response>`).join("\n");
}

const toolCallBlock = /<tool_call>\s*([\s\S]*?)\s*<\/tool_call>/g;

/**
 * Splits an answer into its text and its tool calls. A block that is not a JSON object with a string `name` stays in
 * the text, as the model wrote it, rather than becoming a call the client cannot run.
 */
export function parseToolCalls(text: string): { content: string; calls: ToolCall[] } {
    const calls: ToolCall[] = [];
    const content = text.replace(toolCallBlock, (block, inner: string) => {
        let parsed: unknown;
        try {
            parsed = JSON.parse(inner);
        } catch {
            return block;
        }
        if (typeof parsed !== "object" || parsed === null || typeof (parsed as { name?: unknown }).name !== "string")
            return block;
        const { name, arguments: args } = parsed as { name: string; arguments?: unknown };
        calls.push({ name, arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}) });
        return "";
    });
    return { content: calls.length > 0 ? content.trim() : content, calls };
}
