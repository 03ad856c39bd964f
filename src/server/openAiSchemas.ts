/**
 * The request bodies the server accepts, validated with zod. Fields clients commonly send that the server does not
 * act on are stripped (zod's default), never an error; fields it cannot honour in a way the client relies on
 * (n > 1, a forced tool choice) are refused with a 400.
 */
import { z } from "zod";

/** A stop string is checked at the end of the text after every token (O(length²) each): bounded like their count. */
const stopString = z.string().min(1).max(256);
const stop = z.union([stopString, z.array(stopString).max(16)]).nullish();

/** The sampling fields of OpenAI's API and llama-server's top_k. */
const sampling = {
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    top_k: z.number().int().min(0).nullish(),
    seed: z.number().int().nullish()
};

/** TaH's extension: ask for each generated token's P(hard) and whether it iterated (`tah_tokens` in the answer). */
const tahDifficulty = z.boolean().optional();

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const content = z.union([z.string(), z.array(textPart)]);

const toolCall = z.object({
    id: z.string().optional(),
    type: z.literal("function").optional(),
    function: z.object({ name: z.string().min(1), arguments: z.string() })
});

const message = z.discriminatedUnion("role", [
    z.object({ role: z.enum(["system", "developer"]), content }),
    z.object({ role: z.literal("user"), content }),
    z.object({ role: z.literal("assistant"), content: content.nullish(), tool_calls: z.array(toolCall).optional() }),
    z.object({ role: z.literal("tool"), content, tool_call_id: z.string().optional() })
]);

export type ChatRequestMessage = z.infer<typeof message>;

const tool = z.object({
    type: z.literal("function"),
    function: z.object({ name: z.string().min(1), description: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional() })
});

export const chatRequestSchema = z.object({
    model: z.string().optional(),
    messages: z.array(message).min(1),
    max_tokens: z.number().int().min(1).nullish(),
    max_completion_tokens: z.number().int().min(1).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
    stop,
    ...sampling,
    n: z.literal(1, { message: "only n = 1 is supported" }).nullish(),
    tools: z.array(tool).nullish(),
    tool_choice: z.enum(["auto", "none"], { message: "tool_choice may be \"auto\" or \"none\"" }).nullish(),
    /** Qwen3's thinking mode, as vLLM and llama-server take it. */
    chat_template_kwargs: z.object({ enable_thinking: z.boolean().optional() }).nullish(),
    tah_difficulty: tahDifficulty
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;

export const completionRequestSchema = z.object({
    model: z.string().optional(),
    prompt: z.union([z.string(), z.array(z.string()).length(1, { message: "one prompt per request" }).transform((prompts) => prompts[0])]),
    /** OpenAI's insertion mode: text after the completion, served as fill-in-the-middle. */
    suffix: z.string().nullish(),
    max_tokens: z.number().int().min(1).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
    stop,
    ...sampling,
    n: z.literal(1, { message: "only n = 1 is supported" }).nullish(),
    tah_difficulty: tahDifficulty
});

export type CompletionRequest = z.infer<typeof completionRequestSchema>;

/** llama-server's /infill, as llama.vscode sends it (samplers, cache_prompt, t_max_prompt_ms, id_slot are stripped). */
export const infillRequestSchema = z.object({
    input_prefix: z.string().default(""),
    input_suffix: z.string().default(""),
    input_extra: z.array(z.object({ filename: z.string().optional(), text: z.string() })).default([]),
    /** Text right before the cursor: it follows input_prefix. */
    prompt: z.string().default(""),
    /** -1: the server's default. */
    n_predict: z.number().int().min(-1).optional(),
    n_indent: z.number().int().min(0).optional(),
    t_max_predict_ms: z.number().min(0).optional(),
    stream: z.boolean().optional(),
    stop: z.array(stopString).max(16).optional(),
    ...sampling,
    tah_difficulty: tahDifficulty
});

export type InfillRequest = z.infer<typeof infillRequestSchema>;
