/**
 * Fitting a chat into the context: as few old turns dropped as fit, found with a handful of renders (not one per
 * dropped turn), and a chat template that loops without end stops with an error instead of blocking the engine.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TahModel } from "../../src/engine/model/TahModel.js";
import { buildChatPrompt } from "../../src/engine/prompts/chatPrompt.js";
import { engineErrorCodeOf } from "../../src/engine/protocol/EngineError.js";
import type { ChatMessage } from "../../src/engine/protocol/engineProtocol.js";

/** A model whose tokenizer makes one token per character and counts its calls. */
function fakeModel(chatTemplate: string | undefined): { model: TahModel; tokenizeCalls: () => number } {
    let calls = 0;
    const model = {
        chatTemplate,
        tokenize: (text: string) => {
            calls++;
            return Array.from(text, (character) => character.charCodeAt(0));
        }
    };
    return { model: model as unknown as TahModel, tokenizeCalls: () => calls };
}

const qwenLike = "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

function conversation(turns: number): ChatMessage[] {
    return [
        { role: "system", content: "Be brief." },
        ...Array.from({ length: turns }, (_, index): ChatMessage => ({ role: index % 2 === 0 ? "user" : "assistant", content: `turn ${index} `.repeat(1 + (index % 7)) }))
    ];
}

describe("buildChatPrompt", () => {
    it("drops the fewest old turns that fit, with a logarithmic number of renders", () => {
        const messages = conversation(1000);
        for (const budget of [200, 1500, 9000, 40_000]) {
            const { model, tokenizeCalls } = fakeModel(qwenLike);
            const prompt = buildChatPrompt(model, messages, budget, true);
            assert.ok(prompt.tokens.length <= budget);
            assert.ok(tokenizeCalls() <= 2 + Math.ceil(Math.log2(1000)), `${tokenizeCalls()} renders for a budget of ${budget}`);
            const kept = buildChatPrompt(fakeModel(qwenLike).model, [messages[0], ...messages.slice(prompt.droppedMessages + 1)], Number.MAX_SAFE_INTEGER, true);
            assert.deepEqual(kept.tokens, prompt.tokens);
            if (prompt.droppedMessages > 0) {
                // messages[0] is the system message, so dropping d turns keeps messages[d + 1 …]
                const oneFewer = buildChatPrompt(fakeModel(qwenLike).model, [messages[0], ...messages.slice(prompt.droppedMessages)], Number.MAX_SAFE_INTEGER, true);
                assert.ok(oneFewer.tokens.length > budget, `dropping ${prompt.droppedMessages - 1} turns would not fit`);
            }
        }
    });

    it("refuses a last message that alone does not fit", () => {
        assert.throws(() => buildChatPrompt(fakeModel(qwenLike).model, conversation(3), 10, true), (error: unknown) => engineErrorCodeOf(error) === "contextFull");
    });

    it("stops a template that loops 3000 × 3000 times with an error instead of rendering for half a minute", () => {
        const looping = "{% for i in range(3000) %}{% for j in range(3000) %}x{% endfor %}{% endfor %}";
        assert.throws(() => buildChatPrompt(fakeModel(looping).model, conversation(2), 10_000, true), (error: unknown) => engineErrorCodeOf(error) === "unsupportedModel");
        // the renderer is itself again afterwards
        assert.ok(buildChatPrompt(fakeModel(qwenLike).model, conversation(2), 10_000, true).tokens.length > 0);
    });
});
