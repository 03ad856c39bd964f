// Streamed answer text as VS Code's response parts: text as it arrives, and each `<tool_call>{json}</tool_call>` block
// of an offered tool as one call. Text that may be the start of a block is held back until it is known not to be, and
// an open block only while it can still become a call: held to the end, a block that never closes would keep VS Code's
// Chat on "Considering" for the whole answer.
import { parseToolCalls } from "../engine/prompts/qwen3Tools.js";

export type ResponsePiece =
    | { readonly kind: "text"; readonly text: string }
    | { readonly kind: "toolCall"; readonly callId: string; readonly name: string; readonly input: object };

const open = "<tool_call>";
const close = "</tool_call>";
/** The head of an open block that decides whether it may be a call (the name comes first, and names are short). */
const maxCheckedChars = 512;

/**
 * Whether an open block's text so far (after `<tool_call>`) can still be a call of an offered tool. Qwen3 writes
 * `{"name": "…", "arguments": {…}}`: so the block must open an object, and when its first key is "name", the name
 * must lead to an offered tool's. Anything else it may be (another key order) is given the benefit of the doubt.
 */
function mayBecomeCall(inner: string, tools: ReadonlySet<string>): boolean {
    const body = inner.trimStart();
    if (body === "")
        return true;
    if (!body.startsWith("{"))
        return false;
    const afterBrace = body.slice(1).trimStart();
    const nameKey = "\"name\"";
    if (afterBrace.length < nameKey.length)
        return afterBrace === "" || afterBrace.startsWith("\"");
    if (!afterBrace.startsWith(nameKey))
        return true;
    const value = /^\s*(?::\s*(?:"((?:[^"\\]|\\.)*)("?))?)?/.exec(afterBrace.slice(nameKey.length));
    const rest = afterBrace.slice(nameKey.length + (value?.[0].length ?? 0));
    // a name that is not a JSON string (or a colon missing) is no call
    if (rest !== "")
        return value?.[1] !== undefined && value[2] === "\"" && tools.has(value[1]);
    if (value?.[1] === undefined)
        return true;
    const name = value[1];
    return value[2] === "\"" ? tools.has(name) : [...tools].some((tool) => tool.startsWith(name));
}

/** How much of the end of `text` could begin `marker` (the longest such suffix). */
function partialMarkerLength(text: string, marker: string): number {
    for (let length = Math.min(marker.length - 1, text.length); length > 0; length--)
        if (text.endsWith(marker.slice(0, length)))
            return length;
    return 0;
}

export class ToolCallStream {
    private pending = "";
    /** How much of an open block in `pending` was already searched for its end: each push searches only what is new. */
    private searched = 0;
    private calls = 0;

    /** `tools`: the names offered with the request; a block that calls anything else stays text, as the model wrote it. */
    constructor(private readonly tools: ReadonlySet<string>, private readonly newCallId: () => string) {}

    /** Whether a call was emitted so far. */
    get calledTool(): boolean {
        return this.calls > 0;
    }

    push(text: string): ResponsePiece[] {
        this.pending += text;
        const pieces: ResponsePiece[] = [];
        for (;;) {
            // without tools every block is text
            const start = this.tools.size > 0 ? this.pending.indexOf(open) : -1;
            if (start < 0) {
                const held = this.tools.size > 0 ? partialMarkerLength(this.pending, open) : 0;
                this.emitText(pieces, this.pending.slice(0, this.pending.length - held));
                this.pending = this.pending.slice(this.pending.length - held);
                return pieces;
            }
            this.emitText(pieces, this.pending.slice(0, start));
            this.pending = this.pending.slice(start);
            const end = this.pending.indexOf(close, Math.max(open.length, this.searched - close.length + 1));
            if (end < 0) {
                // an unclosed block waits for its end while it may be a call; otherwise it is text, shown at once
                if (mayBecomeCall(this.pending.slice(open.length, open.length + maxCheckedChars), this.tools)) {
                    this.searched = this.pending.length;
                    return pieces;
                }
                this.searched = 0;
                this.emitText(pieces, this.pending.slice(0, open.length));
                this.pending = this.pending.slice(open.length);
                continue;
            }
            this.searched = 0;
            const block = this.pending.slice(0, end + close.length);
            this.pending = this.pending.slice(end + close.length);
            this.emitBlock(pieces, block);
        }
    }

    /** The answer ended: what was held back is text (an unclosed block included). */
    end(): ResponsePiece[] {
        const pieces: ResponsePiece[] = [];
        this.emitText(pieces, this.pending);
        this.pending = "";
        return pieces;
    }

    private emitText(pieces: ResponsePiece[], text: string): void {
        if (text !== "")
            pieces.push({ kind: "text", text });
    }

    private emitBlock(pieces: ResponsePiece[], block: string): void {
        const [call] = parseToolCalls(block).calls;
        const input = call === undefined ? undefined : parseInput(call.arguments);
        if (call === undefined || input === undefined || !this.tools.has(call.name)) {
            this.emitText(pieces, block);
            return;
        }
        this.calls++;
        pieces.push({ kind: "toolCall", callId: this.newCallId(), name: call.name, input });
    }
}

/** A call's arguments as the object VS Code's tool call carries; anything but a JSON object is no call. */
function parseInput(json: string): object | undefined {
    try {
        const value: unknown = JSON.parse(json);
        return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
    } catch {
        return undefined;
    }
}
