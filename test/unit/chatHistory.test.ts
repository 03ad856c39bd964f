import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ChatHistory, historyKey, type StateStore, type StoredMessage, tokenIdsToForget, trimMessages } from "../../src/chat/ChatHistory.js";
import { tokenMessagesKept } from "../../src/chat/chatLimits.js";
import { attachmentBlock, engineMessages, fenceFor } from "../../src/chat/chatRequest.js";
import type { TokenView } from "../../src/engine/protocol/engineProtocol.js";

class MapStore implements StateStore {
    readonly values = new Map<string, unknown>();
    get(key: string): unknown {
        return this.values.get(key);
    }
    update(key: string, value: unknown): Promise<void> {
        // a Memento stores JSON: a round trip drops what would not survive
        this.values.set(key, JSON.parse(JSON.stringify(value)));
        return Promise.resolve();
    }
}

function token(text: string): TokenView {
    return { token: 1, piece: text, text, difficulty: 0.5, difficultyIsProxy: false, iterated: false, changed: false, before: [], after: [] };
}

function conversation(turns: number, size = 10): StoredMessage[] {
    return Array.from({ length: turns * 2 }, (_, index) => ({
        id: `m${index}`, role: index % 2 === 0 ? "user" as const : "assistant" as const, text: String(index % 10).repeat(size),
    }));
}

describe("trimming the stored conversation", () => {
    test("keeps the newest messages within the count and size bounds, starting with a question", () => {
        const messages = conversation(10);
        assert.equal(trimMessages(messages, 100, 1_000_000).length, 20);
        assert.deepEqual(trimMessages(messages, 5, 1_000_000).map((message) => message.id), ["m16", "m17", "m18", "m19"]);
        assert.deepEqual(trimMessages(messages, 100, 35).map((message) => message.id), ["m18", "m19"]);
    });

    test("attachments count toward the size; the newest message always stays", () => {
        const messages: StoredMessage[] = [
            ...conversation(2),
            { id: "big", role: "user", text: "q", attachment: { label: "a.ts", languageId: "typescript", text: "x".repeat(500) } },
        ];
        assert.deepEqual(trimMessages(messages, 100, 100).map((message) => message.id), ["big"]);
    });

    test("tokens are kept for the newest answers only", () => {
        assert.deepEqual(tokenIdsToForget(["a", "b", "c", "d"], 2), ["a", "b"]);
        assert.deepEqual(tokenIdsToForget(["a"], 2), []);
    });
});

describe("the chat history", () => {
    test("survives a reload through the state store, without tokens", async () => {
        const store = new MapStore();
        const history = new ChatHistory(store);
        history.add({ id: "q", role: "user", text: "hi", attachment: { label: "a.ts", languageId: "typescript", text: "let a;" } });
        history.add({ id: "a", role: "assistant", text: "" });
        history.appendTokens("a", [token("Hel"), token("lo")]);
        const answer = history.get("a");
        assert.ok(answer);
        answer.stats = { generatedTokens: 2, iteratedTokens: 1, tokensPerSecond: 10, stopReason: "stopToken", droppedMessages: 0, promptTokens: 9 };
        await history.save();
        const reloaded = new ChatHistory(store);
        assert.deepEqual(reloaded.messages, history.messages);
        assert.equal(reloaded.get("a")?.text, "Hello");
        assert.equal(reloaded.tokensOf("a"), undefined);
        assert.ok(!JSON.stringify(store.get(historyKey)).includes("\"piece\""), "tokens are not stored");
    });

    test("an answer cut off by a reload is marked stopped; damaged data is dropped", () => {
        const store = new MapStore();
        store.values.set(historyKey, { version: 1, messages: [{ id: "q", role: "user", text: "hi" }, { id: "a", role: "assistant", text: "Hal" }] });
        assert.equal(new ChatHistory(store).get("a")?.stopped, true);
        for (const damaged of [{ version: 2, messages: [] }, { version: 1, messages: [{ id: 1 }] }, "junk", null]) {
            store.values.set(historyKey, damaged);
            assert.deepEqual(new ChatHistory(store).messages, []);
        }
    });

    test("only the newest answers keep their tokens in memory", () => {
        const history = new ChatHistory(new MapStore());
        for (let i = 0; i < tokenMessagesKept + 3; i++) {
            history.add({ id: `q${i}`, role: "user", text: "?" });
            history.add({ id: `a${i}`, role: "assistant", text: "" });
            history.appendTokens(`a${i}`, [token("x")]);
        }
        assert.deepEqual(history.trimTokens(), ["a0", "a1", "a2"]);
        assert.equal(history.tokensOf("a2"), undefined);
        assert.equal(history.tokensOf("a3")?.length, 1);
        assert.deepEqual(history.trimTokens(), []);
    });
});

describe("the request to the engine", () => {
    test("attachments go in a fence the attached text cannot close", () => {
        assert.equal(fenceFor("no ticks"), "```");
        assert.equal(fenceFor("a ```` b ` c"), "`````");
        const block = attachmentBlock({ label: "src/a.md, lines 1–2", languageId: "markdown", text: "```js\nx\n```" });
        assert.equal(block, "src/a.md, lines 1–2:\n````markdown\n```js\nx\n```\n````");
    });

    test("answers go without reasoning; failed questions are not asked again; a system prompt leads", () => {
        const history: StoredMessage[] = [
            { id: "1", role: "user", text: "first" },
            { id: "2", role: "assistant", text: "", error: { code: "noModel", text: "", hint: "" } },
            { id: "3", role: "user", text: "second", attachment: { label: "a.ts", languageId: "ts", text: "let a;" } },
            { id: "4", role: "assistant", text: "<think>\nhmm\n</think>\n\nAn answer." },
            { id: "5", role: "user", text: "third" },
        ];
        assert.deepEqual(engineMessages(history, "Be brief.", 10_000), [
            { role: "system", content: "Be brief." },
            { role: "user", content: "a.ts:\n```ts\nlet a;\n```\n\nsecond" },
            { role: "assistant", content: "An answer." },
            { role: "user", content: "third" },
        ]);
        assert.equal(engineMessages(history, "  ", 10_000)[0]?.role, "user");
    });

    test("the oldest turns go first beyond the size budget; the new question always goes", () => {
        const history = [...conversation(5, 100), { id: "new", role: "user" as const, text: "q".repeat(1000) }];
        const sent = engineMessages(history, "", 1250);
        assert.deepEqual(sent.map((message) => message.content.length), [100, 100, 1000]);
        assert.equal(sent[0]?.role, "user");
        assert.deepEqual(engineMessages(history, "", 10).map((message) => message.content), ["q".repeat(1000)]);
    });
});

