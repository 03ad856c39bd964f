import { EventEmitter } from "node:events";
import type { TokenView } from "../engine/protocol/engineProtocol.js";
import { applyChange, layOut, type TextChange, type TrackedToken } from "./trackedTokens.js";

/** Where a token's difficulty came from: text the copilot wrote, or a difficulty pass over existing text. */
export type TokenOrigin = "written" | "analysis";

interface DocumentTokens {
    written: TrackedToken[];
    analysis: TrackedToken[];
}

interface StoreEvents {
    change: [string];
}

/**
 * Per-document difficulty of tokens, kept in place through later edits. Backs the hover and the heatmap;
 * keyed by document URI string so it needs no VS Code types.
 */
export class DifficultyStore extends EventEmitter<StoreEvents> {
    private readonly documents = new Map<string, DocumentTokens>();

    private entry(uri: string): DocumentTokens {
        let tokens = this.documents.get(uri);
        if (tokens === undefined) {
            tokens = { written: [], analysis: [] };
            this.documents.set(uri, tokens);
        }
        return tokens;
    }

    /** Text the copilot inserted at `offset` (an accepted completion, chat code inserted at the cursor). */
    addWritten(uri: string, offset: number, views: readonly TokenView[]): void {
        const entry = this.entry(uri);
        const added = layOut(offset, views);
        const end = added[added.length - 1]?.end ?? offset;
        entry.written = [...entry.written.filter((token) => token.end <= offset || token.start >= end), ...added].sort((a, b) => a.start - b.start);
        this.emit("change", uri);
    }

    /** The result of a difficulty pass: replaces the previous one of the document. */
    setAnalysis(uri: string, tokens: readonly TrackedToken[]): void {
        this.entry(uri).analysis = [...tokens].sort((a, b) => a.start - b.start);
        this.emit("change", uri);
    }

    clearAnalysis(uri: string): void {
        const entry = this.documents.get(uri);
        if (entry !== undefined && entry.analysis.length > 0) {
            entry.analysis = [];
            this.emit("change", uri);
        }
    }

    applyChanges(uri: string, changes: readonly TextChange[]): void {
        const entry = this.documents.get(uri);
        if (entry === undefined || changes.length === 0)
            return;
        for (const change of changes) {
            entry.written = applyChange(entry.written, change);
            entry.analysis = applyChange(entry.analysis, change);
        }
        this.emit("change", uri);
    }

    /** The token covering `offset`; text the copilot wrote wins over an analysis of the same spot. */
    tokenAt(uri: string, offset: number): { token: TrackedToken; origin: TokenOrigin } | undefined {
        const entry = this.documents.get(uri);
        if (entry === undefined)
            return undefined;
        for (const origin of ["written", "analysis"] as const) {
            const token = entry[origin].find((candidate) => candidate.start <= offset && offset < candidate.end);
            if (token !== undefined)
                return { token, origin };
        }
        return undefined;
    }

    tokens(uri: string, origin: TokenOrigin): readonly TrackedToken[] {
        return this.documents.get(uri)?.[origin] ?? [];
    }

    forget(uri: string): void {
        this.documents.delete(uri);
    }
}
