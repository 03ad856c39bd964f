// The conversation of this workspace: kept in the extension's workspaceState (it survives a reload of the window),
// with the tokens of recent answers in memory only (a token carries its candidates, far more than its text).
import * as z from "zod/mini";
import type { TokenView } from "../engine/protocol/engineProtocol.js";
import { maxStoredChars, maxStoredMessages, tokenMessagesKept } from "./chatLimits.js";
import type { AnswerStats, ChatErrorView } from "./protocol.js";

export interface Attachment {
    /** What the chat shows, e.g. "src/a.ts, lines 3–9". */
    readonly label: string;
    readonly languageId: string;
    readonly text: string;
}

export interface StoredMessage {
    readonly id: string;
    readonly role: "user" | "assistant";
    text: string;
    readonly attachment?: Attachment;
    stats?: AnswerStats;
    error?: ChatErrorView;
    stopped?: boolean;
}

/** The part of vscode.Memento the history uses (no vscode import, so unit tests can give it a Map). */
export interface StateStore {
    get(key: string): unknown;
    update(key: string, value: unknown): PromiseLike<void>;
}

export const historyKey = "tah.chat.history";

// Stored data can be from an older version or damaged: it is checked like any input, and dropped if it fails.
const storedSchema = z.object({
    version: z.literal(1),
    messages: z.array(z.object({
        id: z.string(),
        role: z.enum(["user", "assistant"]),
        text: z.string(),
        attachment: z.optional(z.object({ label: z.string(), languageId: z.string(), text: z.string() })),
        stats: z.optional(z.object({
            generatedTokens: z.number(),
            iteratedTokens: z.number(),
            tokensPerSecond: z.number(),
            stopReason: z.enum(["stopToken", "maxTokens", "deadline", "done"]),
            droppedMessages: z.number(),
            promptTokens: z.number(),
        })),
        error: z.optional(z.object({ code: z.string(), text: z.string(), hint: z.string(), action: z.optional(z.literal("pickModel")) })),
        stopped: z.optional(z.boolean()),
    })),
});

function size(message: StoredMessage): number {
    return message.text.length + (message.attachment?.text.length ?? 0);
}

/**
 * Drops the oldest messages until at most `maxMessages` remain and their text (attachments included) fits
 * `maxChars`; the newest message always stays. A conversation then starts with a question, not an answer.
 */
export function trimMessages(messages: readonly StoredMessage[], maxMessages: number, maxChars: number): StoredMessage[] {
    let first = Math.max(0, messages.length - maxMessages);
    let chars = messages.slice(first).reduce((sum, message) => sum + size(message), 0);
    while (first < messages.length - 1 && chars > maxChars) {
        chars -= size(messages[first]);
        first++;
    }
    while (first < messages.length - 1 && messages[first]?.role === "assistant")
        first++;
    return messages.slice(first);
}

/**
 * The ids whose tokens to forget so that only the newest `keep` answers have tokens (ids in the order the
 * answers were written).
 */
export function tokenIdsToForget(idsWithTokens: readonly string[], keep: number): string[] {
    return idsWithTokens.slice(0, Math.max(0, idsWithTokens.length - keep));
}

export class ChatHistory {
    private list: StoredMessage[];
    /** Tokens of answers, oldest first (Map order). */
    private readonly tokens = new Map<string, TokenView[]>();

    constructor(private readonly state: StateStore) {
        const parsed = storedSchema.safeParse(state.get(historyKey));
        this.list = parsed.success ? parsed.data.messages : [];
        // an answer that was still being written when the window closed
        for (const message of this.list) {
            if (message.role === "assistant" && message.stats === undefined && message.error === undefined)
                message.stopped = true;
        }
    }

    get messages(): readonly StoredMessage[] {
        return this.list;
    }

    get(id: string): StoredMessage | undefined {
        return this.list.find((message) => message.id === id);
    }

    tokensOf(id: string): readonly TokenView[] | undefined {
        return this.tokens.get(id);
    }

    add(message: StoredMessage): void {
        this.list.push(message);
        if (message.role === "assistant")
            this.tokens.set(message.id, []);
    }

    /** Streamed tokens of an answer: its text grows by theirs. */
    appendTokens(id: string, views: readonly TokenView[]): void {
        const message = this.get(id);
        if (message === undefined)
            return;
        for (const view of views)
            message.text += view.text;
        this.tokens.get(id)?.push(...views);
    }

    /** Forgets the tokens of all but the newest answers; returns the ids that lost theirs. */
    trimTokens(): string[] {
        const forget = tokenIdsToForget([...this.tokens.keys()], tokenMessagesKept);
        for (const id of forget)
            this.tokens.delete(id);
        return forget;
    }

    clear(): void {
        this.list = [];
        this.tokens.clear();
    }

    /** Trims the conversation to the storage bounds and writes it to workspaceState. */
    async save(): Promise<void> {
        this.list = trimMessages(this.list, maxStoredMessages, maxStoredChars);
        const kept = new Set(this.list.map((message) => message.id));
        for (const id of this.tokens.keys()) {
            if (!kept.has(id))
                this.tokens.delete(id);
        }
        await this.state.update(historyKey, { version: 1, messages: this.list });
    }
}
