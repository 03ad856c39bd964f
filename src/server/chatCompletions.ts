import { randomUUID } from "node:crypto";
import type { ChatSampling, TokenView } from "../engine/protocol/engineProtocol.js";
import { toEngineMessages } from "./chatMessages.js";
import { generate, type Generation } from "./generation.js";
import { chatRequestSchema, type ChatRequest } from "./openAiSchemas.js";
import { parseToolCalls, type ToolCall } from "../engine/prompts/qwen3Tools.js";
import { maxTokensOf, parseBody, sendJson, stopList, unixSeconds, type RequestContext } from "./requestContext.js";
import { SseStream } from "./SseStream.js";
import { type ResponsePiece, ToolCallStream } from "../languageModels/ToolCallStream.js";
import { tahTokens, usageOf } from "./tahFields.js";

function openAiToolCalls(calls: readonly ToolCall[]): Array<{ index: number; id: string; type: "function"; function: ToolCall }> {
    return calls.map((call, index) => ({ index, id: `call_${randomUUID().replaceAll("-", "")}`, type: "function", function: call }));
}

/** OpenAI's sampling fields as the engine takes them; a seed is any integer, the engine's 32 bits are its residue. */
function chatSamplingOf(request: ChatRequest): ChatSampling {
    return {
        ...(request.temperature != null ? { temperature: request.temperature } : {}),
        ...(request.top_p != null ? { topP: request.top_p } : {}),
        ...(request.top_k != null ? { topK: request.top_k } : {}),
        ...(request.seed != null ? { seed: ((request.seed % 0x1_0000_0000) + 0x1_0000_0000) % 0x1_0000_0000 } : {})
    };
}

/** POST /v1/chat/completions: OpenAI's chat API on the engine's chat, Qwen3's tool calls parsed into tool_calls. */
export async function chatCompletions(context: RequestContext): Promise<void> {
    const request = parseBody(chatRequestSchema, context.body);
    const maxTokens = maxTokensOf(request.max_completion_tokens ?? request.max_tokens, context.limits);
    const tools = request.tool_choice === "none" ? [] : request.tools ?? [];
    const messages = toEngineMessages(request.messages, tools);
    const withDifficulty = request.tah_difficulty === true;
    const id = `chatcmpl-${randomUUID()}`;
    const created = unixSeconds();
    const model = context.modelName;
    const kind = context.engine.status().models?.chat.kind;
    Object.assign(context.log, { stream: request.stream === true, max_tokens: maxTokens, tools: tools.length });

    const chunk = (delta: Record<string, unknown>, finishReason: string | null, tokens: readonly TokenView[] = []): Record<string, unknown> => ({
        id, object: "chat.completion.chunk", created, model,
        choices: [{ index: 0, delta, finish_reason: finishReason, ...(withDifficulty && tokens.length > 0 ? { tah_tokens: tahTokens(tokens) } : {}) }]
    });

    const engineRun = (onToken: (token: TokenView) => void, signal: AbortSignal): ReturnType<typeof context.engine.chat> =>
        context.engine.chat({ messages, maxTokens, enableThinking: request.chat_template_kwargs?.enable_thinking ?? false, sampling: chatSamplingOf(request), stream: true, promptIterations: withDifficulty }, onToken, signal);

    if (request.stream !== true) {
        const generation = await context.inTurn(() => generate(engineRun, { stops: stopList(request.stop), signal: context.signal }));
        context.metrics.recordGeneration(generation);
        const { content, calls } = tools.length > 0 ? parseToolCalls(generation.text) : { content: generation.text, calls: [] };
        const usage = usageOf(generation, kind);
        Object.assign(context.log, { finish_reason: calls.length > 0 ? "tool_calls" : generation.finishReason, usage });
        sendJson(context.response, 200, {
            id, object: "chat.completion", created, model,
            choices: [{
                index: 0,
                message: { role: "assistant", content: calls.length > 0 && content === "" ? null : content, ...(calls.length > 0 ? { tool_calls: openAiToolCalls(calls) } : {}) },
                finish_reason: calls.length > 0 ? "tool_calls" : generation.finishReason,
                ...(withDifficulty ? { tah_tokens: tahTokens(generation.tokens) } : {})
            }],
            usage
        });
        return;
    }

    await context.inTurn(async () => {
        const stream = new SseStream(context.response);
        stream.send(chunk({ role: "assistant", content: "" }, null));
        // with tools, a `<tool_call>` block is held back while it can still be a call of an offered tool (text at once
        // otherwise), and each call goes out as a tool_calls delta when its block closes
        const toolStream = new ToolCallStream(new Set(tools.map((tool) => tool.function.name)), () => `call_${randomUUID().replaceAll("-", "")}`);
        let calls = 0;
        const send = (pieces: readonly ResponsePiece[], tokens: readonly TokenView[]): void => {
            const shown = pieces.flatMap((piece) => (piece.kind === "text" ? [piece.text] : [])).join("");
            if (shown !== "" || (withDifficulty && tokens.length > 0))
                stream.send(chunk({ content: shown }, null, tokens));
            for (const piece of pieces)
                if (piece.kind === "toolCall")
                    stream.send(chunk({ tool_calls: [{ index: calls++, id: piece.callId, type: "function", function: { name: piece.name, arguments: JSON.stringify(piece.input) } }] }, null));
        };
        const generation: Generation = await generate(engineRun, {
            stops: stopList(request.stop),
            signal: context.signal,
            onText: (text, tokens) => send(toolStream.push(text), tokens)
        });
        context.metrics.recordGeneration(generation);
        send(toolStream.end(), []);
        const finishReason = calls > 0 ? "tool_calls" : generation.finishReason;
        const usage = usageOf(generation, kind);
        Object.assign(context.log, { finish_reason: finishReason, usage });
        if (request.stream_options?.include_usage === true) {
            stream.send(chunk({}, finishReason));
            stream.send({ id, object: "chat.completion.chunk", created, model, choices: [], usage });
        } else
            stream.send({ ...chunk({}, finishReason), usage });
        stream.end(true);
    });
}
