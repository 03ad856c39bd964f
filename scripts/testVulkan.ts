// `npm run test:vulkan`: builds the patched Vulkan variant (cached like the CPU one) and runs the exactness suites (TaH v1
// and TaH2) on it, computing on Mesa's lavapipe, a CPU Vulkan driver: the kernels and the patches are Vulkan's, the device is the CPU.
// ggml-vulkan skips CPU-type devices unless GGML_VK_VISIBLE_DEVICES names them; the suite checks the offload happened.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
// Not through npx: npm takes --test-reporter* for its own config and drops them, so no TAP file would be written.
const tsx = path.join(root, "node_modules", ".bin", "tsx");

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
    console.log(`[vulkan] $ ${command} ${args.join(" ")}`);
    return spawnSync(command, args, { cwd: root, stdio: "inherit", env }).status ?? 1;
}

const runtimeDir = path.join(root, "test-output", "xdg-runtime");
fs.mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
let status = run(tsx, ["scripts/build-native.ts", "--gpu", "vulkan"]);
if (status === 0) {
    const started = Date.now();
    status = run(tsx, [
        "--test", "--test-reporter=spec", "--test-reporter-destination=stdout",
        "--test-reporter=tap", `--test-reporter-destination=${path.join("test-output", "vulkan.tap")}`, "test/engine/exactness.test.ts", "test/engine/tah2Exactness.test.ts"
    ], { ...process.env, TAH_TEST_GPU: "vulkan", GGML_VK_VISIBLE_DEVICES: "0", XDG_RUNTIME_DIR: runtimeDir });
    console.log(`[vulkan] exactness suite on lavapipe: ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
process.exitCode = status;
