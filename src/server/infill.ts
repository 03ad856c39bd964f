import { generate } from "./generation.js";
import { infillRequestSchema } from "./openAiSchemas.js";
import { maxTokensOf, parseBody, sendJson, type RequestContext } from "./requestContext.js";
import { SseStream } from "./SseStream.js";
import { tahTokens, usageOf } from "./tahFields.js";

/** FIM clients send single- and multi-line requests alike; n_indent and n_predict end them. */
const unlimitedLines = Number.MAX_SAFE_INTEGER;

/**
 * POST /infill, llama-server's fill-in-the-middle endpoint, as llama.vscode calls it: `input_prefix`, `prompt` (the
 * current line up to the cursor, which follows the prefix), `input_suffix`, `input_extra` (context chunks from other
 * files, placed before the prefix), `n_predict` (0: evaluate the prompt only, llama.vscode's cache warm-up), `n_indent`,
 * `t_max_predict_ms`; `id_slot`, `n_cmpl`, `samplers`, `cache_prompt` are accepted and ignored (one answer, greedy,
 * the engine's own cache). Answers with the fields llama.vscode reads: content, tokens_cached, truncated, timings.
 */
export async function infill(context: RequestContext): Promise<void> {
    const request = parseBody(infillRequestSchema, context.body);
    // llama.vscode's preparation request (n_predict 0): only the prompt is evaluated, so the next request finds it cached
    const warmOnly = request.n_predict === 0;
    const maxTokens = maxTokensOf(request.n_predict === undefined || request.n_predict < 0 ? undefined : Math.max(1, request.n_predict), context.limits, "n_predict");
    const maxMs = request.t_max_predict_ms === undefined || request.t_max_predict_ms <= 0 ? context.limits.maxDecodeMs : Math.min(request.t_max_predict_ms, context.limits.maxDecodeMs);
    // the engine keeps the end of the prefix when the context is short, so the other files' chunks go first
    const extra = request.input_extra.map((chunk) => (chunk.text.endsWith("\n") ? chunk.text : `${chunk.text}\n`)).join("");
    const prefix = extra + request.input_prefix + request.prompt;
    const kind = context.engine.status().models?.chat.kind;
    Object.assign(context.log, { stream: request.stream === true, max_tokens: maxTokens, extra_chunks: request.input_extra.length });

    await context.inTurn(async () => {
        const stream = request.stream === true ? new SseStream(context.response) : undefined;
        const generation = await generate(
            (onToken, signal) => context.engine.complete({ prefix, suffix: request.input_suffix, maxTokens, maxMs, maxLines: unlimitedLines, stream: true, promptIterations: request.tah_difficulty === true }, onToken, signal),
            {
                stops: request.stop ?? [],
                nIndent: request.n_indent ?? 0,
                signal: context.signal,
                onText: stream === undefined || warmOnly ? undefined : (text, tokens) => stream.send({ content: text, stop: false, ...(request.tah_difficulty === true ? { tah_tokens: tahTokens(tokens) } : {}) })
            }
        );
        if (warmOnly) {
            generation.text = "";
            generation.tokens = [];
        }
        context.metrics.recordGeneration(generation);
        const usage = usageOf(generation, kind);
        Object.assign(context.log, { finish_reason: generation.finishReason, usage });
        const predicted = generation.tokens.length;
        const timings = {
            ...(generation.promptTokens !== null ? { prompt_n: generation.promptTokens } : {}),
            ...(generation.prefillMs !== null ? { prompt_ms: generation.prefillMs } : {}),
            ...(generation.promptTokens !== null && generation.prefillMs !== null && generation.prefillMs > 0 ? { prompt_per_second: (generation.promptTokens / generation.prefillMs) * 1000 } : {}),
            predicted_n: predicted,
            ...(generation.decodeMs !== null ? { predicted_ms: generation.decodeMs } : {}),
            ...(generation.decodeMs !== null && generation.decodeMs > 0 ? { predicted_per_second: (predicted / generation.decodeMs) * 1000 } : {})
        };
        const final = {
            content: stream === undefined ? generation.text : "",
            stop: true,
            model: context.modelName,
            stop_type: generation.cutByStop ? "word" : generation.finishReason === "length" ? "limit" : "eos",
            tokens_predicted: predicted,
            ...(generation.promptTokens !== null ? { tokens_evaluated: generation.promptTokens } : {}),
            ...(generation.reusedTokens !== null ? { tokens_cached: generation.reusedTokens } : {}),
            timings,
            usage,
            ...(request.tah_difficulty === true && stream === undefined ? { tah_tokens: tahTokens(generation.tokens) } : {})
        };
        if (stream === undefined)
            sendJson(context.response, 200, final);
        else {
            stream.send(final);
            stream.end(false);
        }
    });
}
