// Mocha entry that the extension host loads (bundled to out/test/index.cjs): runs every *.test.cjs beside it,
// writes a JSON result file (path from TAH_TEST_RESULTS) and prints "N passed, N failed".
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Mocha from "mocha";

interface TestOutcome {
    readonly title: string;
    readonly durationMs?: number;
    readonly error?: string;
}

function writeResults(passes: TestOutcome[], failures: TestOutcome[]): void {
    const file = process.env.TAH_TEST_RESULTS;
    if (!file) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ passed: passes.length, failed: failures.length, passes, failures }, null, 4) + "\n");
}

export async function run(): Promise<void> {
    const passes: TestOutcome[] = [];
    const failures: TestOutcome[] = [];
    // The Base reporter prints nothing: the extension host forwards console output without printf formatting, so
    // the lines below are formatted here.
    const mocha = new Mocha({ ui: "tdd", color: false, timeout: 30_000, reporter: Mocha.reporters.Base });
    const dir = path.dirname(fileURLToPath(import.meta.url));
    for (const file of fs.readdirSync(dir).filter((name) => name.endsWith(".test.cjs")).sort()) {
        mocha.addFile(path.join(dir, file));
    }
    try {
        const failed = await new Promise<number>((resolve) => {
            const runner = mocha.run(resolve);
            runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, (test: Mocha.Test) => {
                passes.push({ title: test.fullTitle(), durationMs: test.duration ?? 0 });
                console.log(`✓ ${test.fullTitle()}`);
            });
            runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (test: Mocha.Test, error: Error) => {
                failures.push({ title: test.fullTitle(), error: error.stack ?? error.message });
                console.log(`✗ ${test.fullTitle()}: ${error.message}`);
            });
        });
        writeResults(passes, failures);
        console.log(`${passes.length} passed, ${failures.length} failed`);
        if (failed > 0) throw new Error(`${failed} integration test(s) failed`);
    } catch (error) {
        // A test file that fails to load never reaches the runner's events: record it as a failure.
        if (failures.length === 0) {
            failures.push({ title: "loading the integration tests", error: String(error) });
            writeResults(passes, failures);
        }
        throw error;
    }
}
