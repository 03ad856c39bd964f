/**
 * What a repository holds, told from its file names (never from its name), and which of its files a pull fetches:
 * a TaH checkpoint (tah_config.json + iter_decider.bin; TaH2 adds input_updater.bin), or GGUF files.
 */
import { minimatch } from "minimatch";
import { DownloadError } from "./DownloadError.js";
import type { RepoFile } from "./HubClient.js";

export type RepoKind = "tah" | "tah2" | "gguf";

export function repoKindOf(paths: readonly string[]): RepoKind | undefined {
    const names = new Set(paths);
    if (names.has("tah_config.json") && names.has("input_updater.bin"))
        return "tah2";
    if (names.has("tah_config.json") && names.has("iter_decider.bin"))
        return "tah";
    if (paths.some((name) => name.toLowerCase().endsWith(".gguf")))
        return "gguf";
    return undefined;
}

/** What a checkpoint's model card and pictures are: not needed to convert it. */
const notForConversion = ["**/*.md", ".gitattributes", "**/*.{png,jpg,jpeg,gif,svg,webp,pdf}"];

// A split GGUF: name-00001-of-00003.gguf; its parts are one model.
const splitPart = /^(.*)-\d{5}-of-\d{5}\.gguf$/i;

function modelOfGguf(filePath: string): string {
    return splitPart.exec(filePath)?.[1] ?? filePath;
}

export interface FileSelection {
    /** Globs a file must match one of (minimatch, as `--include`); none: the kind's default. */
    readonly include?: readonly string[];
    /** For a GGUF repository with several quantizations: the one whose file name names this type (q8_0, …). */
    readonly type?: string;
}

function matchesAny(filePath: string, globs: readonly string[]): boolean {
    return globs.some((glob) => minimatch(filePath, glob, { dot: true, nocase: true }));
}

export function selectFiles(repo: string, kind: RepoKind, files: readonly RepoFile[], selection: FileSelection = {}): RepoFile[] {
    if (selection.include !== undefined && selection.include.length > 0) {
        const chosen = files.filter((file) => matchesAny(file.path, selection.include ?? []));
        if (chosen.length === 0)
            throw new DownloadError("notFound", `no file of ${repo} matches ${selection.include.join(", ")}`);
        return chosen;
    }
    if (kind !== "gguf")
        return files.filter((file) => !matchesAny(file.path, notForConversion));
    let ggufs = files.filter((file) => file.path.toLowerCase().endsWith(".gguf"));
    if (selection.type !== undefined) {
        const type = selection.type.toLowerCase();
        ggufs = ggufs.filter((file) => file.path.toLowerCase().replace(/[-.]/g, "_").includes(type));
        if (ggufs.length === 0)
            throw new DownloadError("notFound", `${repo} has no GGUF file of type ${selection.type}`);
    }
    const models = [...new Set(ggufs.map((file) => modelOfGguf(file.path)))];
    if (models.length > 1)
        throw new DownloadError("unsupported", `${repo} has ${models.length} GGUF models; choose one with --include (or --type): ${models.join(", ")}`);
    return ggufs;
}
