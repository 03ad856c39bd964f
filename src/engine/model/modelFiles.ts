import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { EngineError } from "../protocol/engineError.js";

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

const manifestSchema = z.object({
    format: z.literal("tah-copilot-model"),
    version: z.literal(1),
    name: z.string().optional(),
    backbone: z.string(),
    lora: z.string(),
    decider: z.string(),
    source: z.record(z.string(), z.unknown()).optional()
});

export type TahManifest = z.infer<typeof manifestSchema>;

export type ModelFiles =
    | { kind: "tah"; folder: string; name: string; manifest: TahManifest; backbone: string; lora: string; decider: string }
    | { kind: "plain"; name: string; backbone: string };

const ggufMagic = "GGUF";

function checkGguf(file: string, role: string): void {
    if (!existsSync(file) || !statSync(file).isFile())
        throw new EngineError("modelFile", `the ${role} file ${file} does not exist`);
    const size = statSync(file).size;
    if (size < 24)
        throw new EngineError("modelFile", `the ${role} file ${file} is too short to be a GGUF file (${size} bytes)`);
    const head = Buffer.alloc(4);
    const fd = openSync(file, "r");
    try {
        readSync(fd, head, 0, 4, 0);
    } finally {
        closeSync(fd);
    }
    if (head.toString("latin1") !== ggufMagic)
        throw new EngineError("modelFile", `the ${role} file ${file} is not a GGUF file`);
}

/** The folder that holds a TaH model's manifest, if the path names one (the folder, or its manifest). */
function tahFolderOf(modelPath: string): string | undefined {
    if (path.basename(modelPath) === tahManifestName)
        return path.dirname(modelPath);
    if (existsSync(modelPath) && statSync(modelPath).isDirectory())
        return modelPath;
    return undefined;
}

/** Resolves what the user pointed at: a TaH model folder (or its tah-model.json) or a plain .gguf file. */
export function resolveModelFiles(modelPath: string): ModelFiles {
    const resolved = path.resolve(modelPath);
    if (!existsSync(resolved))
        throw new EngineError("modelFile", `no model at ${resolved}: point tah.modelPath at a TaH model folder or a .gguf file`);

    const folder = tahFolderOf(resolved);
    if (folder === undefined) {
        checkGguf(resolved, "model");
        return { kind: "plain", name: path.basename(resolved, ".gguf"), backbone: resolved };
    }

    const manifestPath = path.join(folder, tahManifestName);
    if (!existsSync(manifestPath))
        throw new EngineError("modelFile", `${folder} is a folder without ${tahManifestName}: convert a TaH checkpoint with \`tah convert\`, or pick a .gguf file`);
    let parsed: unknown;
    try {
        parsed = JSON.parse(readFileSync(manifestPath, "utf8"));
    } catch (error) {
        throw new EngineError("modelFile", `${manifestPath} is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    const manifest = manifestSchema.safeParse(parsed);
    if (!manifest.success)
        throw new EngineError("modelFile", `${manifestPath} is not a TaH model manifest: ${manifest.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ")}`);

    const inside = (file: string, role: string): string => {
        const full = path.resolve(folder, file);
        if (path.relative(folder, full).startsWith(".."))
            throw new EngineError("modelFile", `${manifestPath}: the ${role} path leaves the model folder`);
        checkGguf(full, role);
        return full;
    };
    return {
        kind: "tah",
        folder,
        name: manifest.data.name ?? path.basename(folder),
        manifest: manifest.data,
        backbone: inside(manifest.data.backbone, "backbone"),
        lora: inside(manifest.data.lora, "LoRA"),
        decider: inside(manifest.data.decider, "decider")
    };
}
