import { Interpreter, Template } from "@huggingface/jinja";
import type { ChatMessage } from "../protocol/engineProtocol.js";
import type { TahModel } from "../model/TahModel.js";
import { EngineError } from "../protocol/EngineError.js";

export interface ChatPrompt {
    tokens: number[];
    /** Oldest messages left out to fit the budget. */
    droppedMessages: number;
}

/**
 * Template nodes one render may evaluate. Qwen3's template spends about 49 per message (a thousand-message chat:
 * 48,563 steps, 0.1 s), so this is twice the protocol's largest chat; a template that loops far beyond it
 * (3000 × 3000) stops after about 0.6 s instead of holding the engine's message loop for half a minute.
 */
export const maxTemplateSteps = 100_000;

/** Qwen3's ChatML layout, used when a model carries no chat template or its template does not render. */
function chatMl(messages: readonly ChatMessage[], enableThinking: boolean): string {
    const turns = messages.map((message) => `<|im_start|>${message.role}\n${message.content}<|im_end|>\n`).join("");
    return `${turns}<|im_start|>assistant\n${enableThinking ? "" : "<think>\n\n</think>\n\n"}`;
}

/**
 * Renders with a budget of evaluation steps. The library has no such limit and builds its interpreter inside
 * render(), so the count is kept by wrapping Interpreter.prototype.evaluate for the duration of this synchronous call.
 */
interface Evaluator {
    evaluate: (this: Evaluator, ...args: unknown[]) => unknown;
}

// typed here: the package's declarations import its runtime module without an extension, which ESLint cannot resolve
const interpreter = (Interpreter as unknown as { prototype: Evaluator }).prototype;

function renderBounded(template: Template, items: Record<string, unknown>): string {
    const evaluate = interpreter.evaluate;
    let steps = 0;
    interpreter.evaluate = function (this: Evaluator, ...args: unknown[]): unknown {
        if (++steps > maxTemplateSteps)
            throw new EngineError("unsupportedModel", `the model's chat template needs more than ${maxTemplateSteps} steps to render this chat`);
        return evaluate.apply(this, args);
    };
    try {
        return template.render(items);
    } finally {
        interpreter.evaluate = evaluate;
    }
}

function render(model: TahModel, messages: readonly ChatMessage[], enableThinking: boolean): string {
    const source = model.chatTemplate;
    if (source === undefined)
        return chatMl(messages, enableThinking);
    let template: Template;
    try {
        template = new Template(source);
    } catch {
        // a template using Jinja syntax the renderer lacks: ChatML is what Qwen3 templates produce
        return chatMl(messages, enableThinking);
    }
    try {
        return renderBounded(template, { messages, add_generation_prompt: true, enable_thinking: enableThinking, bos_token: "", eos_token: "" });
    } catch (error) {
        if (error instanceof EngineError)
            throw error;
        return chatMl(messages, enableThinking);
    }
}

/**
 * Renders the conversation with the model's own chat template and tokenizes it (special tokens parsed). When it
 * exceeds the budget, the oldest turns after the system message are left out: as few as fit, found by bisection
 * (dropping more turns never makes the prompt longer), so a long chat costs a handful of renders, not one per turn.
 * The last message always stays; if it alone does not fit, a contextFull EngineError says so.
 */
export function buildChatPrompt(model: TahModel, messages: readonly ChatMessage[], budget: number, enableThinking: boolean): ChatPrompt {
    const system = messages.filter((message) => message.role === "system").slice(0, 1);
    const turns = messages.filter((message) => message.role !== "system");
    const attempt = (dropped: number): number[] | undefined => {
        const tokens = model.tokenize(render(model, [...system, ...turns.slice(dropped)], enableThinking), true);
        return tokens.length <= budget ? tokens : undefined;
    };
    const all = attempt(0);
    if (all !== undefined)
        return { tokens: all, droppedMessages: 0 };
    // invariant: dropping `tooFew` turns does not fit; dropping `enough` does (or `enough` is every turn but the last)
    let tooFew = 0;
    let enough = Math.max(0, turns.length - 1);
    let fitting = enough > 0 ? attempt(enough) : undefined;
    if (fitting === undefined)
        throw new EngineError("contextFull", `the last message alone is longer than the context allows (${budget} tokens); shorten it or raise tah.contextSize`);
    while (enough - tooFew > 1) {
        const middle = Math.floor((tooFew + enough) / 2);
        const tokens = attempt(middle);
        if (tokens === undefined) {
            tooFew = middle;
        } else {
            enough = middle;
            fitting = tokens;
        }
    }
    return { tokens: fitting, droppedMessages: enough };
}
