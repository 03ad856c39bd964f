// `npm test`: setup → lint → typecheck → native → build → package → unit → engine → vulkan → portable → integration → UI → models UI → bench,
// then a summary and the closing
// line "N passed, N failed". Exits non-zero on any failure. `tsx scripts/test.ts unit ui` runs only the named steps.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const testOutput = path.join(root, "test-output");

interface Counts {
    readonly passed: number;
    readonly failed: number;
}

interface Step {
    readonly name: string;
    readonly command: readonly string[];
    readonly timeoutMs: number;
    /** Steps whose failure makes this one pointless (it is then skipped). */
    readonly needs: readonly string[];
    /** Test counts, read after the step ran; steps without them count as one check. */
    readonly counts?: () => Counts | undefined;
}

function testFiles(dirs: readonly string[]): string[] {
    return dirs.flatMap((dir) => fs.existsSync(path.join(root, dir))
        ? fs.readdirSync(path.join(root, dir), { recursive: true, encoding: "utf8" })
            .filter((file) => file.endsWith(".test.ts"))
            .sort()
            .map((file) => path.join(dir, file))
        : []);
}

function readJsonCounts(file: string): Counts | undefined {
    try {
        const { passed, failed } = JSON.parse(fs.readFileSync(path.join(testOutput, file), "utf8")) as Counts;
        return { passed, failed };
    } catch {
        return undefined;
    }
}

/** Node's TAP reporter ends with "# pass N" and "# fail N". */
function readTapCounts(file: string): Counts | undefined {
    try {
        const tap = fs.readFileSync(path.join(testOutput, file), "utf8");
        const count = (key: string): number | undefined => {
            const match = new RegExp(`^# ${key} (\\d+)$`, "m").exec(tap);
            return match ? Number(match[1]) : undefined;
        };
        const passed = count("pass");
        const failed = count("fail");
        return passed === undefined || failed === undefined ? undefined : { passed, failed };
    } catch {
        return undefined;
    }
}

const minutes = 60_000;
const steps: Step[] = [
    // apt packages, Node 24 and code-server (cached outside the clone; seconds when already there).
    { name: "setup", command: ["tsx", "scripts/e2e/setup.ts"], timeoutMs: 20 * minutes, needs: [] },
    { name: "lint", command: ["eslint", "."], timeoutMs: 10 * minutes, needs: [] },
    { name: "typecheck", command: ["npm", "run", "typecheck"], timeoutMs: 10 * minutes, needs: [] },
    // the patched llama.cpp (cached outside the clone by a hash of native-patches/): before the VSIX that ships it.
    // One portable build: every CPU variant and the Vulkan backend, plus the CPU build derived from it.
    { name: "native", command: ["npm", "run", "build:native", "--", "--gpu", "vulkan"], timeoutMs: 40 * minutes, needs: ["setup"] },
    { name: "build", command: ["npm", "run", "build"], timeoutMs: 5 * minutes, needs: [] },
    { name: "package", command: ["npm", "run", "package"], timeoutMs: 5 * minutes, needs: ["native", "build"] },
    {
        name: "unit",
        command: [
            "tsx", "--test", "--test-reporter=spec", "--test-reporter-destination=stdout",
            "--test-reporter=tap", `--test-reporter-destination=${path.join("test-output", "unit.tap")}`, ...testFiles(["test/unit"]),
        ],
        timeoutMs: 20 * minutes,
        needs: [],
        counts: () => readTapCounts("unit.tap"),
    },
    {
        // the engine against the float64 reference, bad input, conversion, the CLI: the patched CPU build
        name: "engine",
        command: [
            "tsx", "--test", "--test-concurrency=1", "--test-reporter=spec", "--test-reporter-destination=stdout",
            "--test-reporter=tap", `--test-reporter-destination=${path.join("test-output", "engine.tap")}`, ...testFiles(["test/engine"]),
        ],
        timeoutMs: 30 * minutes,
        needs: ["native"],
        counts: () => readTapCounts("engine.tap"),
    },
    {
        // the exactness suite again on the Vulkan build, computing on Mesa's lavapipe (see scripts/testVulkan.ts)
        name: "vulkan",
        command: ["tsx", "scripts/testVulkan.ts"],
        timeoutMs: 60 * minutes,
        needs: ["setup", "native"],
        counts: () => readTapCounts("vulkan.tap"),
    },
    {
        // the packaged VSIX's own engine under qemu-x86_64 -cpu Haswell and SandyBridge against the host's tokens
        name: "portable",
        command: [
            "tsx", "--test", "--test-reporter=spec", "--test-reporter-destination=stdout",
            "--test-reporter=tap", `--test-reporter-destination=${path.join("test-output", "portable.tap")}`, ...testFiles(["test/portable"]),
        ],
        timeoutMs: 30 * minutes,
        needs: ["setup", "package"],
        counts: () => readTapCounts("portable.tap"),
    },
    {
        name: "integration",
        command: ["tsx", "test/e2e/extensionTests.ts"],
        timeoutMs: 10 * minutes,
        needs: ["setup", "build", "package"],
        counts: () => readJsonCounts("integration-results.json"),
    },
    {
        name: "ui",
        command: ["tsx", "test/e2e/ui.ts"],
        timeoutMs: 10 * minutes,
        needs: ["setup", "build", "package"],
        counts: () => readJsonCounts("ui-results.json"),
    },
    {
        // TaH: Get a Model… against a fake hub, the Models view, one model per role
        name: "models-ui",
        command: ["tsx", "test/e2e/modelsUi.ts"],
        timeoutMs: 10 * minutes,
        needs: ["setup", "build", "package"],
        counts: () => readJsonCounts("models-ui-results.json"),
    },
    // the benchmark's quick mode as a smoke test: it must run through; its numbers are reported, never asserted
    { name: "bench", command: ["tsx", "bench/main.ts", "--quick", "--out", path.join("test-output", "bench")], timeoutMs: 10 * minutes, needs: ["native", "build"] },
];

type Outcome = "passed" | "failed" | "skipped";
interface StepResult {
    readonly step: Step;
    readonly outcome: Outcome;
    readonly seconds: number;
    readonly counts?: Counts;
}

let current: ReturnType<typeof spawn> | undefined;

function killCurrent(): void {
    const pid = current?.pid;
    if (pid === undefined) return;
    try {
        process.kill(-pid, "SIGTERM"); // the step's whole process group (the drivers then kill their servers)
    } catch {
        // already gone
    }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
        killCurrent();
        process.exit(signal === "SIGINT" ? 130 : 143);
    });
}

async function runStep(step: Step): Promise<boolean> {
    const [command = "", ...args] = step.command;
    return new Promise((resolve) => {
        // Its own process group, so a timeout ends everything the step started. node_modules/.bin is on PATH
        // (npm puts it there for `npm test`; added here for a direct `tsx scripts/test.ts`).
        const child = spawn(command, args, {
            cwd: root,
            stdio: "inherit",
            detached: true,
            env: { ...process.env, PATH: `${path.join(root, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}` },
        });
        current = child;
        const timer = setTimeout(() => {
            console.log(`\n[test] ${step.name}: timed out after ${step.timeoutMs / minutes} min`);
            killCurrent();
            setTimeout(() => { if (child.pid !== undefined) try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ } }, 10_000);
        }, step.timeoutMs);
        child.once("error", (error) => {
            console.log(`[test] ${step.name}: ${error.message}`);
        });
        child.once("close", (code) => {
            clearTimeout(timer);
            current = undefined;
            resolve(code === 0);
        });
    });
}

async function main(): Promise<number> {
    const selected = process.argv.slice(2);
    const unknown = selected.filter((name) => !steps.some((step) => step.name === name));
    if (unknown.length > 0) {
        console.error(`unknown step(s): ${unknown.join(", ")}; steps: ${steps.map((step) => step.name).join(", ")}`);
        return 2;
    }
    fs.mkdirSync(testOutput, { recursive: true });
    const results: StepResult[] = [];
    const failedSteps = new Set<string>();
    for (const step of steps) {
        if (selected.length > 0 && !selected.includes(step.name)) continue;
        const blocker = step.needs.find((name) => failedSteps.has(name));
        if (blocker) {
            console.log(`\n[test] ${step.name}: skipped (${blocker} failed)`);
            failedSteps.add(step.name);
            results.push({ step, outcome: "skipped", seconds: 0 });
            continue;
        }
        console.log(`\n[test] ${step.name}: ${step.command.join(" ")}`);
        const started = Date.now();
        const ok = await runStep(step);
        const counts = step.counts?.();
        // A runner that exits 0 without counts, or with failures, still fails the step.
        const passed = ok && (step.counts === undefined || (counts !== undefined && counts.failed === 0 && counts.passed > 0));
        if (!passed) failedSteps.add(step.name);
        results.push({ step, outcome: passed ? "passed" : "failed", seconds: (Date.now() - started) / 1000, counts });
    }

    console.log("\n[test] summary");
    let passed = 0;
    let failed = 0;
    for (const result of results) {
        const tests = result.counts ? ` (${result.counts.passed} passed, ${result.counts.failed} failed)` : "";
        console.log(`  ${result.outcome.padEnd(7)} ${result.step.name.padEnd(12)} ${result.seconds.toFixed(1).padStart(6)} s${tests}`);
        if (result.counts) {
            passed += result.counts.passed;
            failed += result.counts.failed;
        }
        // A failed or skipped step with no test failures of its own still counts as one failure.
        if (result.outcome !== "passed" && (result.counts?.failed ?? 0) === 0) failed += 1;
    }
    console.log(`${passed} passed, ${failed} failed`);
    return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
