import { randomUUID } from "node:crypto";
import type { TokenView } from "../engine/protocol/engineProtocol.js";
import { generate } from "./generation.js";
import { completionRequestSchema } from "./openAiSchemas.js";
import { maxTokensOf, parseBody, sendJson, stopList, unixSeconds, type RequestContext } from "./requestContext.js";
import { SseStream } from "./SseStream.js";
import { tahTokens, usageOf } from "./tahFields.js";

/** No line limit: /v1/completions ends on max_tokens, stop strings or the model's end token. */
const unlimitedLines = Number.MAX_SAFE_INTEGER;

/** POST /v1/completions: OpenAI's legacy completions on the engine's greedy completion (a suffix makes it fill-in-the-middle). */
export async function completions(context: RequestContext): Promise<void> {
    const request = parseBody(completionRequestSchema, context.body);
    const maxTokens = maxTokensOf(request.max_tokens, context.limits);
    const withDifficulty = request.tah_difficulty === true;
    const id = `cmpl-${randomUUID()}`;
    const created = unixSeconds();
    const model = context.modelName;
    const kind = context.engine.status().models?.chat.kind;
    Object.assign(context.log, { stream: request.stream === true, max_tokens: maxTokens });

    const choice = (text: string, finishReason: string | null, tokens: readonly TokenView[]): Record<string, unknown> =>
        ({ index: 0, text, logprobs: null, finish_reason: finishReason, ...(withDifficulty && tokens.length > 0 ? { tah_tokens: tahTokens(tokens) } : {}) });

    await context.inTurn(async () => {
        const stream = request.stream === true ? new SseStream(context.response) : undefined;
        const generation = await generate(async (onToken, signal) => {
            const result = await context.engine.complete(
                { prefix: request.prompt, suffix: request.suffix ?? "", maxTokens, maxMs: context.limits.maxDecodeMs, maxLines: unlimitedLines, stream: true, promptIterations: withDifficulty },
                onToken,
                signal
            );
            return result;
        }, {
            stops: stopList(request.stop),
            signal: context.signal,
            onText: stream === undefined ? undefined : (text, tokens) => stream.send({ id, object: "text_completion", created, model, choices: [choice(text, null, tokens)] })
        });
        context.metrics.recordGeneration(generation);
        const usage = usageOf(generation, kind);
        Object.assign(context.log, { finish_reason: generation.finishReason, usage });
        if (stream === undefined) {
            sendJson(context.response, 200, { id, object: "text_completion", created, model, choices: [choice(generation.text, generation.finishReason, generation.tokens)], usage });
            return;
        }
        if (request.stream_options?.include_usage === true) {
            stream.send({ id, object: "text_completion", created, model, choices: [choice("", generation.finishReason, [])] });
            stream.send({ id, object: "text_completion", created, model, choices: [], usage });
        } else
            stream.send({ id, object: "text_completion", created, model, choices: [choice("", generation.finishReason, [])], usage });
        stream.end(true);
    });
}
