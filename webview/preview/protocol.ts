// What the extension host sends the completion preview (the host imports these types; the preview sends only
// "ready", which the host validates), and the preview's check of what arrives.
import type { TokenView } from "../../src/engine/protocol/engineProtocol.js";
import { checkedTokenViews } from "../shared/tokenViews.js";

export interface PreviewSuggestion {
    readonly text: string;
    readonly tokens: readonly TokenView[];
}

export interface PreviewMessage {
    readonly type: "suggestion";
    /** undefined: no suggestion right now. */
    readonly suggestion: PreviewSuggestion | undefined;
    /** The file, relative to the workspace, and the 1-based line of the cursor; "" before the first suggestion. */
    readonly fileName: string;
    readonly line: number;
}

/** The message as the preview renders it: its tokens checked and bounded; undefined when it is not a suggestion message. */
export function checkedPreviewMessage(data: unknown): PreviewMessage | undefined {
    if (typeof data !== "object" || data === null)
        return undefined;
    const { type, suggestion, fileName, line } = data as Partial<Record<keyof PreviewMessage, unknown>>;
    if (type !== "suggestion" || typeof fileName !== "string" || typeof line !== "number")
        return undefined;
    if (suggestion === undefined)
        return { type, suggestion, fileName, line };
    const { text, tokens } = (typeof suggestion === "object" && suggestion !== null ? suggestion : {}) as Partial<Record<keyof PreviewSuggestion, unknown>>;
    if (typeof text !== "string")
        return undefined;
    return { type, suggestion: { text, tokens: checkedTokenViews(tokens) }, fileName, line };
}
