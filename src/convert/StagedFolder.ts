/**
 * An output folder that appears only when complete: everything is written into a sibling
 * `<name>.partial-<pid>-<random>` folder, renamed into place at the end, and removed on failure — also when the
 * process exits early (process.exit after a second Ctrl-C). A folder left by a killed run is removed by the next
 * run that writes the same target.
 */
import { rmSync } from "node:fs";
import { mkdir, readdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { EngineError } from "../engine/protocol/EngineError.js";

function isRunning(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}

function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Removes `<name>.partial-<pid>-…` siblings whose process is gone. */
async function removeStalePartials(target: string): Promise<void> {
    const parent = path.dirname(target);
    const pattern = new RegExp(`^${escapeRegExp(path.basename(target))}\\.partial-(\\d+)-[0-9a-f]+$`);
    for (const entry of await readdir(parent)) {
        const pid = Number(pattern.exec(entry)?.[1]);
        if (Number.isInteger(pid) && pid > 0 && !isRunning(pid))
            await rm(path.join(parent, entry), { recursive: true, force: true });
    }
}

/** Whether `target` may be written: absent, an empty folder, or any folder with `force`. */
async function checkTarget(target: string, force: boolean): Promise<"absent" | "empty" | "replace"> {
    let info;
    try {
        info = await stat(target);
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT")
            return "absent";
        throw error;
    }
    if (!info.isDirectory())
        throw new EngineError("modelFile", `${target} exists and is not a folder; choose another --out`);
    if ((await readdir(target)).length === 0)
        return "empty";
    if (!force)
        throw new EngineError("modelFile", `${target} exists and is not empty; choose another --out, or pass --force to replace it`);
    return "replace";
}

export class StagedFolder {
    private readonly exitHook = (): void => rmSync(this.path, { recursive: true, force: true });
    private finished = false;

    private constructor(readonly target: string, readonly path: string, private readonly force: boolean) {}

    /** Checks the target (refusing a non-empty one without `force`) and creates the staging folder. */
    static async create(target: string, force: boolean): Promise<StagedFolder> {
        const absolute = path.resolve(target);
        await checkTarget(absolute, force);
        await mkdir(path.dirname(absolute), { recursive: true });
        await removeStalePartials(absolute);
        const staging = `${absolute}.partial-${process.pid}-${randomBytes(4).toString("hex")}`;
        await mkdir(staging);
        const folder = new StagedFolder(absolute, staging, force);
        process.on("exit", folder.exitHook);
        return folder;
    }

    /**
     * Moves the staging folder to the target, replacing what `create` allowed to be replaced. On failure the staging
     * folder is removed and a replaced target restored.
     */
    async commit(): Promise<void> {
        this.finish();
        let replaced: string | undefined;
        try {
            const state = await checkTarget(this.target, this.force);
            if (state === "empty")
                await rmdir(this.target);
            if (state === "replace") {
                replaced = `${this.target}.replaced-${process.pid}-${randomBytes(4).toString("hex")}`;
                await rename(this.target, replaced);
            }
            await rename(this.path, this.target);
        } catch (error) {
            if (replaced !== undefined)
                await rename(replaced, this.target).catch(() => undefined);
            await rm(this.path, { recursive: true, force: true });
            throw error;
        }
        if (replaced !== undefined)
            await rm(replaced, { recursive: true, force: true });
    }

    /** Removes the staging folder and everything in it (nothing to do after a commit, which cleans up after itself). */
    async discard(): Promise<void> {
        if (this.finished)
            return;
        this.finish();
        await rm(this.path, { recursive: true, force: true });
    }

    private finish(): void {
        if (this.finished)
            throw new Error("the staged folder was already committed");
        this.finished = true;
        process.off("exit", this.exitHook);
    }
}
