/** Free bytes for an unprivileged writer on the file system that holds `dir` (or its nearest existing ancestor). */
import { stat, statfs } from "node:fs/promises";
import path from "node:path";

export type FreeSpaceReader = (dir: string) => Promise<number>;

async function existingAncestor(dir: string): Promise<string> {
    let current = path.resolve(dir);
    for (;;) {
        try {
            await stat(current);
            return current;
        } catch (error) {
            const parent = path.dirname(current);
            if ((error as NodeJS.ErrnoException).code !== "ENOENT" || parent === current)
                throw error;
            current = parent;
        }
    }
}

export const readFreeSpace: FreeSpaceReader = async (dir) => {
    const info = await statfs(await existingAncestor(dir));
    return info.bavail * info.bsize;
};
