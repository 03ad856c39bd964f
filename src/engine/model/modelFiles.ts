import { realpathSync, statSync, type Stats } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { EngineError } from "../protocol/EngineError.js";
import { readHeadSync, readRegularFileSync, resolveInsideSync } from "./safeFiles.js";

/**
 * A modelFile EngineError under the name TahModel.ts (the native side's file) still throws; it goes once that file
 * throws EngineError("modelFile", …) itself.
 */
export class ModelFileError extends EngineError {
    constructor(message: string, options?: { cause?: unknown }) {
        super("modelFile", message, options);
    }
}

export const tahManifestName = "tah-model.json";

const commonManifest = {
    format: z.literal("tah-copilot-model"),
    version: z.literal(1),
    name: z.string().max(256).optional(),
    backbone: z.string().min(1).max(4096),
    /** The depths a token may run (informational: the engine reads it from the model's own files). */
    maxIter: z.number().int().min(1).max(64).optional(),
    source: z.record(z.string(), z.unknown()).optional()
};

/** TaH v1 (no `generation`: manifests written before TaH2 existed): the depth-1 LoRA and the decider. */
const tah1ManifestSchema = z.object({
    ...commonManifest,
    generation: z.literal(1).optional(),
    lora: z.string().min(1).max(4096),
    decider: z.string().min(1).max(4096)
});

/** TaH2: the input updater and the decider in one file; no LoRA. */
const tah2ManifestSchema = z.object({
    ...commonManifest,
    generation: z.literal(2),
    tah2: z.string().min(1).max(4096)
});

const manifestSchema = z.union([tah1ManifestSchema, tah2ManifestSchema]);

export type TahManifest = z.infer<typeof manifestSchema>;

export type ModelFiles =
    | { kind: "tah"; generation: 1; folder: string; name: string; manifest: TahManifest; backbone: string; lora: string; decider: string }
    | { kind: "tah"; generation: 2; folder: string; name: string; manifest: TahManifest; backbone: string; tah2: string }
    | { kind: "plain"; name: string; backbone: string };

/** A model's files beside its backbone: v1's LoRA and decider, TaH2's networks file, none for a plain GGUF. */
export function tahFiles(files: ModelFiles): string[] {
    if (files.kind === "plain")
        return [];
    return files.generation === 2 ? [files.tah2] : [files.lora, files.decider];
}

const ggufMagic = "GGUF";
/** A manifest is a few hundred bytes; anything near this is not one. */
const maxManifestBytes = 1 << 20;

function checkGguf(file: string, role: string, folder: string): void {
    if (statOrUndefined(file) === undefined)
        throw new EngineError("modelFile", `the ${role} file ${file} does not exist`);
    const opened = readHeadSync(file, 4, { inside: folder });
    if (opened.size < 24)
        throw new EngineError("modelFile", `the ${role} file ${file} is too short to be a GGUF file (${opened.size} bytes)`);
    if (opened.head.toString("latin1") !== ggufMagic)
        throw new EngineError("modelFile", `the ${role} file ${file} is not a GGUF file`);
}

function statOrUndefined(file: string): Stats | undefined {
    try {
        return statSync(file);
    } catch {
        return undefined;
    }
}

/** The folder that holds a TaH model's manifest, if the path names one (the folder, or its manifest). */
function tahFolderOf(modelPath: string, stats: Stats): string | undefined {
    if (path.basename(modelPath) === tahManifestName)
        return path.dirname(modelPath);
    return stats.isDirectory() ? modelPath : undefined;
}

/**
 * Resolves what the user pointed at: a TaH model folder (or its tah-model.json) or a plain .gguf file. The path
 * the user chose may be a link; the files a manifest names must be regular files inside the model's real folder.
 */
export function resolveModelFiles(modelPath: string): ModelFiles {
    const given = path.resolve(modelPath);
    const stats = statOrUndefined(given);
    if (stats === undefined)
        throw new EngineError("modelFile", `no model at ${given}: point tah.modelPath at a TaH model folder or a .gguf file`);
    const resolved = realpathSync(given);

    const folder = tahFolderOf(resolved, stats);
    if (folder === undefined) {
        checkGguf(resolved, "model", path.dirname(resolved));
        return { kind: "plain", name: path.basename(resolved, ".gguf"), backbone: resolved };
    }

    const manifestPath = path.join(folder, tahManifestName);
    if (statOrUndefined(manifestPath) === undefined)
        throw new EngineError("modelFile", `${folder} is a folder without ${tahManifestName}: convert a TaH checkpoint with \`tah convert\`, or pick a .gguf file`);
    let parsed: unknown;
    try {
        parsed = JSON.parse(readRegularFileSync(manifestPath, { inside: folder, maxBytes: maxManifestBytes }).toString("utf8"));
    } catch (error) {
        if (error instanceof EngineError)
            throw error;
        throw new EngineError("modelFile", `${manifestPath} is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    const manifest = manifestSchema.safeParse(parsed);
    if (!manifest.success)
        throw new EngineError("modelFile", `${manifestPath} is not a TaH model manifest: ${manifest.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ")}`);

    const inside = (file: string, role: string): string => {
        const full = path.resolve(folder, file);
        const relative = path.relative(folder, full);
        if (relative === "" || relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative))
            throw new EngineError("modelFile", `${manifestPath}: the ${role} path leaves the model folder`);
        checkGguf(full, role, folder);
        return resolveInsideSync(full, folder);
    };
    const data = manifest.data;
    const common = { kind: "tah", folder, name: data.name ?? path.basename(folder), manifest: data, backbone: inside(data.backbone, "backbone") } as const;
    if (data.generation === 2)
        return { ...common, generation: 2, tah2: inside(data.tah2, "TaH2 networks") };
    return { ...common, generation: 1, lora: inside(data.lora, "LoRA"), decider: inside(data.decider, "decider") };
}
