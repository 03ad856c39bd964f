import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { type GpuBackend, packageRoot } from "./buildIdentity.js";

const gpuBackend = z.enum(["cpu", "vulkan", "cuda"]);

/** What `npm run build:native` writes beside the binaries of each build folder it made. */
const buildRecordSchema = z.object({
    buildId: z.string(),
    gpu: gpuBackend,
    folderName: z.string(),
    nodeLlamaCppVersion: z.string(),
    cmakeOptions: z.record(z.string(), z.string()),
    seconds: z.number(),
    /** Set when this folder is a copy of another kind's build without its GPU backend (see build-native.ts). */
    derivedFrom: gpuBackend.optional()
});

export type BuildRecord = z.infer<typeof buildRecordSchema>;

export const buildRecordName = "tah-build.json";

export function localBuildsDir(root = packageRoot()): string {
    return path.join(root, "node_modules", "node-llama-cpp", "llama", "localBuilds");
}

export function readBuildRecord(file: string): BuildRecord | undefined {
    try {
        // a record that is not one (null, {}, truncated, another tool's file) means: not our build
        const parsed = buildRecordSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
        return parsed.success ? parsed.data : undefined;
    } catch {
        return undefined;
    }
}

/** The local build folders that carry our record, of one GPU kind or of all. */
export function installedBuilds(gpu?: GpuBackend, root = packageRoot()): Array<{ folder: string; record: BuildRecord }> {
    const dir = localBuildsDir(root);
    if (!existsSync(dir))
        return [];
    return readdirSync(dir)
        .map((name) => ({ folder: path.join(dir, name), record: readBuildRecord(path.join(dir, name, "Release", buildRecordName)) }))
        .filter((entry): entry is { folder: string; record: BuildRecord } => entry.record !== undefined && (gpu === undefined || entry.record.gpu === gpu));
}
