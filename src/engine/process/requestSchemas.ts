import { z } from "zod";
import type { EngineMethod } from "../protocol/engineProtocol.js";

/** Bounds on what a request may ask for: a request beyond them is refused, not attempted. */
const maxTextChars = 2_000_000;
/** The most parallel sequences per role (tah serve --parallel refuses more too). */
export const maxParallel = 64;
/** The most threads the engine runs on (the CLI refuses more too). */
export const maxThreads = 256;

const settings = z.object({
    modelPath: z.string().min(1).max(4096),
    completionModelPath: z.string().min(1).max(4096).nullable(),
    gpu: z.enum(["auto", "cpu", "vulkan", "cuda"]),
    threads: z.number().int().min(0).max(maxThreads),
    contextSize: z.number().int().min(512).max(131_072),
    threshold: z.number().min(0).max(1).nullable(),
    parallel: z.number().int().min(1).max(maxParallel).optional()
});

const complete = z.object({
    prefix: z.string().max(maxTextChars),
    suffix: z.string().max(maxTextChars),
    maxTokens: z.number().int().min(1).max(512),
    maxMs: z.number().int().min(50).max(30_000),
    maxLines: z.number().int().min(1).max(100),
    stream: z.boolean(),
    promptIterations: z.boolean().optional(),
    stopBelowIndent: z.number().int().min(0).max(10_000).optional(),
    document: z.string().max(4096).optional()
});

const chat = z.object({
    // the whole conversation within the bound of one text: it is rendered and tokenized a few times to fit it
    messages: z.array(z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string().max(maxTextChars) })).min(1).max(1000)
        .refine((messages) => messages.reduce((total, message) => total + message.content.length, 0) <= maxTextChars, `the messages together must be at most ${maxTextChars} characters`),
    maxTokens: z.number().int().min(16).max(32_768),
    enableThinking: z.boolean(),
    sampling: z.object({
        temperature: z.number().min(0).max(2).optional(),
        topP: z.number().min(0).max(1).optional(),
        topK: z.number().int().min(0).max(1_000_000).optional(),
        // the native sampler's seed is 32 bits
        seed: z.number().int().min(0).max(0xffff_ffff).optional()
    }).strict().optional(),
    stream: z.boolean(),
    promptIterations: z.boolean().optional()
});

const analyze = z.object({ text: z.string().max(maxTextChars) });

const convert = z.object({
    checkpointDir: z.string().min(1).max(4096),
    outDir: z.string().min(1).max(4096),
    type: z.string().min(1).max(16),
    force: z.boolean()
});

export const paramSchemas: Record<EngineMethod, z.ZodType> = {
    load: settings,
    complete,
    chat,
    analyze,
    convert,
    status: z.object({}).strict(),
    tokenCount: z.object({ text: z.string().max(maxTextChars) })
};

export function isEngineMethod(method: string): method is EngineMethod {
    return Object.hasOwn(paramSchemas, method);
}

/** A request names any method: one the engine does not know still gets an answer (invalidRequest). */
export const hostMessageSchema = z.discriminatedUnion("type", [
    z.object({ type: z.literal("request"), id: z.number().int(), method: z.string().max(4096), params: z.unknown() }),
    z.object({ type: z.literal("cancel"), id: z.number().int() })
]);
