// What the extension host sends the completion preview (the host imports these types; the preview sends only
// "ready", which the host validates).
import type { TokenView } from "../../src/engine/protocol/engineProtocol.js";

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
