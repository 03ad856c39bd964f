import * as vscode from "vscode";
import type { TokenView } from "../engine/protocol/engineProtocol.js";
import { prefixWindowStride } from "./completionContext.js";
import type { InlineCompletionService } from "./InlineCompletionService.js";
import type { Suggestion } from "./postProcess.js";

/** The hidden command an accepted suggestion runs, so its tokens can be followed for the hover. */
export const completionAcceptedCommand = "tah.completionAccepted";

export interface SuggestionListener {
    (suggestion: Suggestion | undefined, where: { fileName: string; line: number }): void;
}

/**
 * VS Code's side of inline completion: turns the editor's request into one for InlineCompletionService (only the
 * lines it needs, the cancellation token as an AbortSignal) and the answer into ghost text.
 */
export class TahInlineCompletionProvider implements vscode.InlineCompletionItemProvider {
    constructor(
        private readonly service: InlineCompletionService,
        private readonly settings: () => { enabled: boolean; prefixLines: number; suffixLines: number },
        private readonly log: vscode.LogOutputChannel,
        private readonly onSuggestion: SuggestionListener
    ) {}

    async provideInlineCompletionItems(
        document: vscode.TextDocument,
        position: vscode.Position,
        context: vscode.InlineCompletionContext,
        token: vscode.CancellationToken
    ): Promise<vscode.InlineCompletionItem[] | undefined> {
        const settings = this.settings();
        if (!settings.enabled)
            return undefined;
        const controller = new AbortController();
        const subscription = token.onCancellationRequested(() => controller.abort());
        try {
            // a window of the document: enough lines for the prompt, not the whole (possibly huge) file
            const start = new vscode.Position(Math.max(0, position.line - settings.prefixLines - prefixWindowStride), 0);
            const endLine = Math.min(document.lineCount - 1, position.line + settings.suffixLines + 1);
            const end = document.lineAt(endLine).range.end;
            const text = document.getText(new vscode.Range(start, end));
            const offset = document.offsetAt(position) - document.offsetAt(start);
            const outcome = await this.service.provide({
                text,
                offset,
                trigger: context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke ? "explicit" : "automatic",
                signal: controller.signal,
                firstLine: start.line,
                document: document.uri.toString()
            });
            if (outcome.source === "engine")
                this.log.debug(`completion: ${outcome.latencyMs?.toFixed(0)} ms, ${outcome.result?.mode}, ${outcome.result?.reusedTokens}/${outcome.result?.promptTokens} prompt tokens reused, stop ${outcome.result?.stopReason}`);
            if (token.isCancellationRequested)
                return undefined;
            this.onSuggestion(outcome.suggestion, { fileName: document.fileName, line: position.line });
            if (outcome.suggestion === undefined)
                return undefined;
            const item = new vscode.InlineCompletionItem(outcome.suggestion.text, new vscode.Range(position, position), {
                title: "Follow the accepted suggestion",
                command: completionAcceptedCommand,
                arguments: [document.uri, document.offsetAt(position), outcome.suggestion.tokens]
            });
            return [item];
        } catch (error) {
            if (!controller.signal.aborted)
                this.log.debug(`completion failed: ${error instanceof Error ? error.message : String(error)}`);
            return undefined;
        } finally {
            subscription.dispose();
        }
    }
}

/** Arguments of the accepted-suggestion command, checked before use (commands can be run by anyone). */
export function acceptedArguments(args: unknown[]): { uri: vscode.Uri; offset: number; tokens: TokenView[] } | undefined {
    const [uri, offset, tokens] = args;
    if (!(uri instanceof vscode.Uri) || typeof offset !== "number" || !Array.isArray(tokens))
        return undefined;
    return { uri, offset, tokens: tokens as TokenView[] };
}
