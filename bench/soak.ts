/**
 * Soak: typing replay (completions), chat and file analysis on the default model at once, with random cancels, for
 * a bounded time and number of rounds. Every completion that was not cancelled is run again alone afterwards and must
 * give the same text (greedy); any error but `aborted` counts as a failure. Reports the resident memory after the
 * first round and at the end. `tsx bench/soak.ts --minutes 10` (or `--seconds N`); `--json` prints one JSON line.
 * Exits 1 on a wrong answer or an error.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { engineErrorCodeOf, type EngineErrorCode } from "../src/engine/protocol/EngineError.js";
import type { CompletionParams } from "../src/engine/protocol/engineProtocol.js";
import { EngineService } from "../src/engine/service/EngineService.js";

const repo = path.resolve(import.meta.dirname, "..");
/** TypeScript the default model was trained on the like of: the engine's own sources. */
const sources = ["src/engine/evaluator/TahSequence.ts", "src/engine/service/EngineService.ts", "src/convert/safetensors.ts", "src/engine/model/safeFiles.ts"]
    .map((file) => readFileSync(path.join(repo, file), "utf8"));

interface SoakReport {
    seconds: number;
    rounds: number;
    completions: number;
    compared: number;
    wrong: number;
    chats: number;
    analyses: number;
    outcomes: Partial<Record<EngineErrorCode, number>>;
    failures: string[];
    rssAfterFirstRoundMiB: number;
    rssEndMiB: number;
    rssGrowthPercent: number;
}

/** mulberry32: the same seed gives the same sequence of requests and cancels. */
function random(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = Math.imul(state ^ (state >>> 15), state | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

async function soak(options: { seconds: number; maxRounds: number; seed: number; modelPath: string }): Promise<SoakReport> {
    const next = random(options.seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
    const service = new EngineService(() => undefined);
    await service.load({ modelPath: options.modelPath, completionModelPath: null, gpu: "cpu", threads: 1, contextSize: 2048, threshold: null }, () => undefined, new AbortController().signal);
    const report: SoakReport = {
        seconds: 0, rounds: 0, completions: 0, compared: 0, wrong: 0, chats: 0, analyses: 0, outcomes: {}, failures: [],
        rssAfterFirstRoundMiB: 0, rssEndMiB: 0, rssGrowthPercent: 0
    };
    let rssAfterFirstRound = 0;
    const started = performance.now();
    const cancelLater = (controller: AbortController, probability: number): void => {
        if (next() < probability)
            setTimeout(() => controller.abort(), Math.floor(next() * 40));
    };
    const settle = async <T>(request: Promise<T>): Promise<T | undefined> => {
        try {
            return await request;
        } catch (error) {
            const code = engineErrorCodeOf(error);
            report.outcomes[code] = (report.outcomes[code] ?? 0) + 1;
            if (code !== "aborted")
                report.failures.push(`${code}: ${error instanceof Error ? error.message : String(error)}`);
            return undefined;
        }
    };
    try {
        while (report.rounds < options.maxRounds && performance.now() - started < options.seconds * 1000) {
            const requests: Array<Promise<unknown>> = [];
            if (next() < 0.5) {
                const controller = new AbortController();
                report.chats++;
                requests.push(settle(service.chat({ messages: [{ role: "user", content: `Explain this code:\n${pick(sources).slice(0, 600)}` }], maxTokens: 48, enableThinking: false, stream: true }, () => undefined, controller.signal)));
                cancelLater(controller, 0.3);
            }
            if (next() < 0.3) {
                const controller = new AbortController();
                const text = pick(sources);
                const start = Math.floor(next() * (text.length - 1500));
                report.analyses++;
                requests.push(settle(service.analyze({ text: text.slice(start, start + 1500) }, controller.signal)));
                cancelLater(controller, 0.3);
            }
            // typing: a keystroke every turn of the event loop, each starting a completion, some cancelled
            const text = pick(sources);
            let at = 200 + Math.floor(next() * (text.length - 400));
            const finished: Array<{ params: CompletionParams; text: string }> = [];
            const keystrokes = 4 + Math.floor(next() * 12);
            for (let key = 0; key < keystrokes; key++, at++) {
                const params: CompletionParams = { prefix: text.slice(Math.max(0, at - 2000), at), suffix: text.slice(at, at + 400), maxTokens: 16, maxMs: 600_000, maxLines: 4, stream: next() < 0.5 };
                const controller = new AbortController();
                report.completions++;
                requests.push(settle(service.complete(params, () => undefined, controller.signal)).then((result) => {
                    if (result !== undefined)
                        finished.push({ params, text: result.text });
                }));
                cancelLater(controller, 0.3);
                await new Promise((resolve) => setImmediate(resolve));
            }
            await Promise.all(requests);
            // each answer against the same request with nothing else running
            for (const done of finished) {
                const alone = await settle(service.complete(done.params, () => undefined, new AbortController().signal));
                report.compared++;
                if (alone?.text !== done.text) {
                    report.wrong++;
                    report.failures.push(`wrong: ${JSON.stringify(done.text)} concurrently, ${JSON.stringify(alone?.text)} alone, after ${JSON.stringify(done.params.prefix.slice(-20))}`);
                }
            }
            report.rounds++;
            if (report.rounds === 1)
                rssAfterFirstRound = process.memoryUsage().rss;
        }
    } finally {
        await service.dispose();
    }
    const rssEnd = process.memoryUsage().rss;
    report.seconds = Math.round((performance.now() - started) / 100) / 10;
    report.rssAfterFirstRoundMiB = mib(rssAfterFirstRound);
    report.rssEndMiB = mib(rssEnd);
    report.rssGrowthPercent = rssAfterFirstRound > 0 ? Math.round(((rssEnd - rssAfterFirstRound) / rssAfterFirstRound) * 1000) / 10 : 0;
    return report;
}

async function main(): Promise<number> {
    const { values } = parseArgs({
        options: {
            minutes: { type: "string" }, seconds: { type: "string" }, rounds: { type: "string", default: "1000000" },
            seed: { type: "string", default: "14" }, model: { type: "string", default: path.join(repo, "models", "tah-code-default") }, json: { type: "boolean", default: false }
        }
    });
    const seconds = values.seconds !== undefined ? Number(values.seconds) : Number(values.minutes ?? "1") * 60;
    const report = await soak({ seconds, maxRounds: Number(values.rounds), seed: Number(values.seed), modelPath: values.model });
    if (values.json) {
        console.log(JSON.stringify(report));
    } else {
        console.log(`soak: ${report.seconds} s, ${report.rounds} rounds, ${report.completions} completions (${report.compared} compared, ${report.wrong} wrong), ${report.chats} chats, ${report.analyses} analyses`);
        console.log(`outcomes: ${JSON.stringify(report.outcomes)}; RSS ${report.rssAfterFirstRoundMiB} MiB after the first round, ${report.rssEndMiB} MiB at the end (${report.rssGrowthPercent}%)`);
        for (const failure of report.failures.slice(0, 20))
            console.log(`  ${failure}`);
    }
    return report.wrong > 0 || report.failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();
