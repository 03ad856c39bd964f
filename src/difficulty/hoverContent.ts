import type { CandidateView, TokenView } from "../engine/protocol/engineProtocol.js";
import type { TokenOrigin } from "./DifficultyStore.js";
import { percent } from "../ui/percent.js";
import { tokenDepth } from "./tokenDepth.js";

/**
 * Model text inside inline code: line breaks, backticks and table pipes would break out of it, so they are
 * shown escaped (the hover's Markdown is untrusted and renders no HTML either way).
 */
export function codeSpan(text: string): string {
    const visible = JSON.stringify(text).slice(1, -1).replaceAll("|", "\\|");
    const fence = visible.includes("`") ? "``" : "`";
    return `${fence} ${visible} ${fence}`;
}

function candidateRows(before: readonly CandidateView[], after: readonly CandidateView[], count: number): string[] {
    const rows: string[] = [];
    for (let i = 0; i < Math.min(count, Math.max(before.length, after.length)); i++) {
        const cell = (candidate: CandidateView | undefined): string => candidate === undefined ? "" : `${codeSpan(candidate.piece)} ${percent(candidate.prob)}`;
        rows.push(`| ${i + 1} | ${cell(before[i])} | ${cell(after[i])} |`);
    }
    return rows;
}

/** TaH2 with more than two depths: how deep the token went, and the decider's probability at each depth it ran at. */
function deeperLines(view: TokenView): string[] {
    const known = tokenDepth(view);
    if (known === undefined || known.pContinue.length < 2)
        return [];
    return ["", `Ran ${known.depth + 1} depth${known.depth === 0 ? "" : "s"} (deepest: ${known.depth}); the decider's continue probability at each: ${known.pContinue.map(percent).join(", ")}.`];
}

/** The hover for one token: how hard it was, whether it took the second pass, and what that pass changed. */
export function hoverMarkdown(view: TokenView, origin: TokenOrigin): string {
    const kind = view.difficultyIsProxy ? "difficulty (proxy: 1 − p(top), plain model)" : "P(hard) from the TaH decider";
    const lines = [
        `**TaH** ${codeSpan(view.piece)} — ${kind}: **${percent(view.difficulty)}**`,
        "",
        view.difficultyIsProxy ? "No latent pass (plain model)." : view.iterated
            ? view.changed
                ? `Iterated: the second pass changed the choice from ${codeSpan(view.before[0]?.piece ?? "")} to ${codeSpan(view.after[0]?.piece ?? "")}.`
                : "Iterated: the second pass kept the first choice."
            : "Not iterated (depth 0 only).",
        ...deeperLines(view),
        "",
        origin === "written" ? "_Written by the copilot._" : "_From a difficulty pass over this file._",
        ""
    ];
    if (view.before.length > 0) {
        lines.push(view.iterated ? "| # | first pass | after the second pass |" : "| # | candidates | |", "|---|---|---|", ...candidateRows(view.before, view.iterated ? view.after : [], 5));
    }
    return lines.join("\n");
}
