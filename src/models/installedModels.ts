/**
 * The models on this machine the Models view lists: what lives in the extension's models folder (TaH model folders,
 * GGUF files, downloaded TaH checkpoints kept for converting again, downloads not yet complete) and the models the
 * settings point at elsewhere. Free of VS Code; reads only headers and sizes.
 *
 * The models folder's layout (what Get a Model writes):
 *   <name>-<type>/tah-model.json …   a converted TaH model
 *   <owner>--<name>/<file>.gguf      a GGUF repository's file(s)
 *   checkpoints/<owner>--<name>/     a downloaded TaH checkpoint (the converter's input)
 *   <anything>.download/             a download in progress: Get a Model resumes it
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { outputTypeNames, outputTypes } from "../convert/outputTypes.js";
import { tahManifestName } from "../engine/model/modelFiles.js";
import { headerNumber, readGgufHeader } from "./ggufHeader.js";

export type InstalledKind = "tah" | "gguf" | "checkpoint" | "partial";

export interface InstalledModel {
    /** What a model setting takes: the TaH folder or the .gguf file; the folder for a checkpoint or a partial download. */
    readonly path: string;
    readonly name: string;
    readonly kind: InstalledKind;
    /** The weight type (TaH: the conversion's; GGUF: general.file_type), when known. */
    readonly type: string | undefined;
    readonly sizeBytes: number;
    /** Inside the models folder: the only ones Delete may remove. */
    readonly managed: boolean;
    /** TaH: the checkpoint it was converted from, when it is kept in the models folder. */
    readonly checkpoint?: string;
}

export const checkpointsFolderName = "checkpoints";
export const partialSuffix = ".download";

const manifestSchema = z.object({ name: z.string().optional(), source: z.object({ checkpoint: z.string().optional(), type: z.string().optional() }).optional() });

/** The type name of llama.cpp's `general.file_type` (the converter's types; others by number). */
export function fileTypeName(fileType: unknown): string | undefined {
    if (typeof fileType !== "number")
        return undefined;
    return outputTypeNames.find((name) => outputTypes[name].ftype === fileType) ?? `file type ${fileType}`;
}

async function treeSize(target: string): Promise<number> {
    const stats = await stat(target);
    if (!stats.isDirectory())
        return stats.size;
    let total = 0;
    for (const entry of await readdir(target, { withFileTypes: true }))
        total += await treeSize(path.join(target, entry.name));
    return total;
}

async function exists(target: string): Promise<boolean> {
    return stat(target).then(() => true, () => false);
}

/** A split GGUF is loaded from its first part; the others are not models of their own. */
function isLoadableGguf(name: string): boolean {
    return name.toLowerCase().endsWith(".gguf") && !/-(?!00001)\d{5}-of-\d{5}\.gguf$/i.test(name);
}

async function ggufModel(file: string, managed: boolean): Promise<InstalledModel> {
    let type: string | undefined;
    try {
        type = fileTypeName(headerNumber(await readGgufHeader(file), "general.file_type"));
    } catch {
        type = undefined;
    }
    return { path: file, name: path.basename(file, path.extname(file)), kind: "gguf", type, sizeBytes: await treeSize(file), managed };
}

async function tahModel(folder: string, managed: boolean, checkpointsDir: string | undefined): Promise<InstalledModel> {
    let manifest: z.infer<typeof manifestSchema> = {};
    try {
        manifest = manifestSchema.parse(JSON.parse(await readFile(path.join(folder, tahManifestName), "utf8")));
    } catch {
        // an unreadable manifest still lists the folder; loading it gives the engine's precise error
    }
    const source = manifest.source?.checkpoint;
    const checkpoint = checkpointsDir !== undefined && source !== undefined && path.basename(source) === source ? path.join(checkpointsDir, source) : undefined;
    return {
        path: folder,
        name: path.basename(folder),
        kind: "tah",
        type: manifest.source?.type,
        sizeBytes: await treeSize(folder),
        managed,
        ...(checkpoint !== undefined && (await exists(checkpoint)) ? { checkpoint } : {}),
    };
}

/** What a path a setting names is, or undefined when there is no model there. */
async function modelAt(target: string, managed: boolean, checkpointsDir: string | undefined): Promise<InstalledModel | undefined> {
    const resolved = path.basename(target) === tahManifestName ? path.dirname(target) : target;
    if (await exists(path.join(resolved, tahManifestName)))
        return tahModel(resolved, managed, checkpointsDir);
    if (isLoadableGguf(resolved) && (await exists(resolved)))
        return ggufModel(resolved, managed);
    return undefined;
}

async function scanModelsFolder(modelsDir: string): Promise<InstalledModel[]> {
    const checkpointsDir = path.join(modelsDir, checkpointsFolderName);
    let entries;
    try {
        entries = await readdir(modelsDir, { withFileTypes: true });
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT")
            return [];
        throw error;
    }
    const found: InstalledModel[] = [];
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        const full = path.join(modelsDir, entry.name);
        if (entry.name.endsWith(partialSuffix) && entry.isDirectory()) {
            found.push({ path: full, name: entry.name.slice(0, -partialSuffix.length), kind: "partial", type: undefined, sizeBytes: await treeSize(full), managed: true });
        } else if (entry.name === checkpointsFolderName && entry.isDirectory()) {
            for (const checkpoint of (await readdir(full, { withFileTypes: true })).filter((item) => item.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
                const folder = path.join(full, checkpoint.name);
                found.push(checkpoint.name.endsWith(partialSuffix)
                    ? { path: folder, name: checkpoint.name.slice(0, -partialSuffix.length), kind: "partial", type: undefined, sizeBytes: await treeSize(folder), managed: true }
                    : { path: folder, name: checkpoint.name, kind: "checkpoint", type: undefined, sizeBytes: await treeSize(folder), managed: true });
            }
        } else if (entry.isDirectory() && (await exists(path.join(full, tahManifestName)))) {
            found.push(await tahModel(full, true, checkpointsDir));
        } else if (entry.isDirectory()) {
            for (const file of (await readdir(full)).filter(isLoadableGguf).sort())
                found.push(await ggufModel(path.join(full, file), true));
        } else if (entry.isFile() && isLoadableGguf(entry.name)) {
            found.push(await ggufModel(full, true));
        }
    }
    return found.sort((a, b) => kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) || a.name.localeCompare(b.name));
}

/** Models first, then what they are made from, then what is not finished. */
const kindOrder: readonly InstalledKind[] = ["tah", "gguf", "checkpoint", "partial"];

/** Every installed model: the models folder's, then the ones `otherPaths` (settings, the bundled model) point at. */
export async function listInstalledModels(modelsDir: string, otherPaths: readonly string[]): Promise<InstalledModel[]> {
    const models = await scanModelsFolder(modelsDir);
    const checkpointsDir = path.join(modelsDir, checkpointsFolderName);
    for (const other of otherPaths) {
        const resolved = path.resolve(other);
        if (models.some((model) => model.path === resolved || model.path === path.dirname(resolved)))
            continue;
        const model = await modelAt(resolved, false, checkpointsDir);
        if (model !== undefined)
            models.push(model);
    }
    return models;
}
