/**
 * `npm run package`: the per-platform VSIX of this machine, out/tah-copilot-<target>.vsix (vsce package --target), so
 * that a marketplace never offers one platform's native engine to another. It carries the patched native builds
 * installed in node-llama-cpp's localBuilds (see .vscodeignore): they must be current, and made for this platform.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { nativeBuildId, packageRoot } from "../src/engine/native/buildIdentity.js";
import { installedBuilds } from "../src/engine/native/installedBuilds.js";

/** VS Code's name of this platform (vsce's --target). */
export function vsixTarget(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
    const os = { linux: "linux", darwin: "darwin", win32: "win32" }[platform as string];
    if (os === undefined || !["x64", "arm64"].includes(arch))
        throw new Error(`no VS Code platform target for ${platform}-${arch}`);
    return `${os}-${arch}`;
}

export function vsixFile(target = vsixTarget()): string {
    return path.join(packageRoot(), "out", `tah-copilot-${target}.vsix`);
}

function main(): void {
    const root = packageRoot();
    const buildId = nativeBuildId(root);
    const builds = installedBuilds(undefined, root);
    const current = builds.filter((entry) => entry.record.buildId === buildId);
    if (current.length === 0 || current.length !== builds.length)
        throw new Error(`the VSIX needs the current native build (${buildId}) and no other; installed: ${builds.map((entry) => `${entry.record.gpu} ${entry.record.buildId}`).join(", ") || "none"} (run npm run build:native)`);
    const target = vsixTarget();
    const out = vsixFile(target);
    console.log(`packaging ${path.relative(root, out)} with the native builds ${current.map((entry) => `${entry.record.gpu} (${entry.record.folderName})`).join(", ")}`);
    const vsce = path.join(root, "node_modules", ".bin", "vsce");
    const result = spawnSync(vsce, ["package", "--target", target, "--skip-license", "--allow-missing-repository", "--no-rewrite-relative-links", "--out", out], { cwd: root, stdio: "inherit" });
    process.exitCode = result.status ?? 1;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
    try {
        main();
    } catch (error) {
        console.error(`package: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
    }
}
