// Messages between the chat webview and the extension host. Webview messages are untrusted input: the host
// validates them with these schemas before acting on them, and refuses oversized ones with a note.
// zod/mini, imported as a namespace, lets esbuild keep only what is used (~30 kB instead of ~700 kB with `{ z }`).
import * as z from "zod/mini";
import type { ChatResult, TokenView } from "../engine/protocol/engineProtocol.js";
import { maxCodeChars, maxIdChars, maxUserTextChars } from "./chatLimits.js";

const messageId = z.string().check(z.minLength(1), z.maxLength(maxIdChars));
const code = z.string().check(z.maxLength(maxCodeChars));

export const webviewMessageSchema = z.discriminatedUnion("type", [
    z.object({ type: z.literal("ready") }),
    z.object({ type: z.literal("send"), text: z.string().check(z.minLength(1), z.maxLength(maxUserTextChars)), attach: z.boolean() }),
    z.object({ type: z.literal("stop") }),
    z.object({ type: z.literal("newChat") }),
    z.object({ type: z.literal("copy"), code }),
    z.object({ type: z.literal("insert"), messageId, code, line: z.int().check(z.minimum(0), z.maximum(10_000_000)) }),
    z.object({ type: z.literal("pickModel") }),
]);
export type WebviewMessage = z.infer<typeof webviewMessageSchema>;

export type ParsedWebviewMessage =
    | { readonly ok: true; readonly message: WebviewMessage }
    | { readonly ok: false; readonly note: string; readonly detail: string };

function tooLong(raw: object, field: "text" | "code", limit: number): number | undefined {
    const value: unknown = (raw as Record<string, unknown>)[field];
    return typeof value === "string" && value.length > limit ? value.length : undefined;
}

/** Validates a message from the webview; a refused one comes with a note for the user and a detail for the log. */
export function parseWebviewMessage(raw: unknown): ParsedWebviewMessage {
    const parsed = webviewMessageSchema.safeParse(raw);
    if (parsed.success)
        return { ok: true, message: parsed.data };
    const detail = parsed.error.message;
    if (typeof raw === "object" && raw !== null) {
        const type: unknown = (raw as { type?: unknown }).type;
        const textLength = type === "send" ? tooLong(raw, "text", maxUserTextChars) : undefined;
        if (textLength !== undefined)
            return { ok: false, detail, note: `The message was not sent: it has ${textLength.toLocaleString("en")} characters, the limit is ${maxUserTextChars.toLocaleString("en")}. Shorten it, or attach the file or selection instead.` };
        const codeLength = type === "copy" || type === "insert" ? tooLong(raw, "code", maxCodeChars) : undefined;
        if (codeLength !== undefined)
            return { ok: false, detail, note: `The code block has ${codeLength.toLocaleString("en")} characters, more than the ${maxCodeChars.toLocaleString("en")} that can be copied or inserted at once.` };
    }
    return { ok: false, detail, note: "The chat view sent a request the extension does not accept; it was ignored." };
}

/** Statistics of one answer, from the engine's ChatResult. */
export type AnswerStats = Pick<ChatResult, "generatedTokens" | "iteratedTokens" | "tokensPerSecond" | "stopReason" | "droppedMessages" | "promptTokens">;

/** An engine error as the chat shows it: what happened, and what to do. */
export interface ChatErrorView {
    readonly code: string;
    readonly text: string;
    readonly hint: string;
    /** A button next to the hint. */
    readonly action?: "pickModel";
}

/** A message of the conversation as the webview shows it. */
export interface MessageView {
    readonly id: string;
    readonly role: "user" | "assistant";
    readonly text: string;
    /** What was attached to a user message, e.g. "sample.ts, lines 3–9". */
    readonly attachment?: string;
    /** The answer's tokens, while the host keeps them (recent answers only). */
    readonly tokens?: readonly TokenView[];
    readonly stats?: AnswerStats;
    readonly error?: ChatErrorView;
    /** The user stopped the answer. */
    readonly stopped?: boolean;
    /** The answer is still being written. */
    readonly pending?: boolean;
}

/** How an answer ended: merged into the message the webview already has. */
export interface MessageEnd {
    readonly stats?: AnswerStats;
    readonly error?: ChatErrorView;
    readonly stopped?: boolean;
}

export type HostMessage =
    /** The engine's state line; `connected` when a model is ready. */
    | { readonly type: "state"; readonly connected: boolean; readonly text: string; readonly canPickModel: boolean }
    /** The whole conversation (a fresh webview, a new chat). */
    | { readonly type: "history"; readonly messages: readonly MessageView[]; readonly busy: boolean }
    | { readonly type: "append"; readonly message: MessageView }
    /** Streamed tokens of a pending answer. */
    | { readonly type: "tokens"; readonly messageId: string; readonly tokens: readonly TokenView[] }
    | { readonly type: "end"; readonly messageId: string; readonly end: MessageEnd }
    /** Older answers whose tokens the host no longer keeps. */
    | { readonly type: "forgetTokens"; readonly messageIds: readonly string[] }
    | { readonly type: "busy"; readonly busy: boolean }
    /** What "attach" would attach now (the active editor's selection or file); undefined: no editor. */
    | { readonly type: "editor"; readonly attachment: string | undefined }
    | { readonly type: "notice"; readonly text: string; readonly level: "info" | "error" };
