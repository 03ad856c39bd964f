/**
 * Deleting an installed model, only ever inside the models folder: the path is resolved through every symbolic link
 * first, so neither "..", an absolute path elsewhere nor a link that points out of the folder can make Delete remove a
 * file the extension did not put there. The folder itself is never removed.
 */
import { realpath, rm, rmdir } from "node:fs/promises";
import path from "node:path";

export class OutsideModelsFolderError extends Error {
    constructor(readonly target: string, readonly modelsDir: string) {
        super(`${target} is not inside the models folder ${modelsDir}; TaH Copilot deletes only the models it downloaded there`);
        this.name = "OutsideModelsFolderError";
    }
}

/** The real path of `target` when it lies strictly inside `modelsDir` (both resolved through links), else an error. */
export async function deletableTarget(modelsDir: string, target: string): Promise<string> {
    const root = await realpath(modelsDir);
    // the target itself may be a link: what is removed is the link's target, so that is what must be inside
    const real = await realpath(path.resolve(root, target));
    const relative = path.relative(root, real);
    if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative))
        throw new OutsideModelsFolderError(target, modelsDir);
    return real;
}

/** Removes an installed model (a file or a folder) after deletableTarget's check. */
export async function deleteInstalledModel(modelsDir: string, target: string): Promise<void> {
    const real = await deletableTarget(modelsDir, target);
    await rm(real, { recursive: true, force: false });
    // a .gguf in its repository folder (or a checkpoint in checkpoints/): the folder goes with its last entry
    const parent = path.dirname(real);
    if (parent !== (await realpath(modelsDir)))
        await rmdir(parent).catch(() => undefined);
}
