/**
 * Opening the files of a model or checkpoint without trusting them: only regular files (a FIFO is opened without
 * blocking and then refused, a device such as /dev/zero too), their size known before a byte is read, reads bounded,
 * and the path resolved through symlinks and required to stay inside the folder it belongs to. Used by the model
 * loader and the converter alike; every refusal is a modelFile EngineError that names the file.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, type Stats } from "node:fs";
import { open, realpath, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { EngineError } from "../protocol/EngineError.js";

/**
 * O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer. O_NOFOLLOW: the path opened
 * is already resolved, so a link in its place now means it was swapped after the containment check.
 */
const openFlags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

export interface FileBounds {
    /** The folder the file must stay in once symlinks are resolved (default: the folder its path names). */
    inside?: string;
    /** Files larger than this are refused before they are read. */
    maxBytes?: number;
}

function kindOf(stats: Stats): string {
    if (stats.isDirectory())
        return "a folder";
    if (stats.isFIFO())
        return "a FIFO (named pipe)";
    if (stats.isSocket())
        return "a socket";
    if (stats.isCharacterDevice() || stats.isBlockDevice())
        return "a device";
    return "not a regular file";
}

function accessError(file: string, error: unknown): EngineError {
    const code = (error as NodeJS.ErrnoException).code;
    return new EngineError("modelFile", code === "ENOENT" ? `${file} is missing` : `cannot read ${file} (${code ?? String(error)})`, { cause: error });
}

/** Whether `child` (a resolved path) is `folder` itself or lies below it; "..x" is a name, not a way out. */
function isWithin(folder: string, child: string): boolean {
    const relative = path.relative(folder, child);
    return relative === "" || (relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

function checkedResolution(file: string, real: string, folder: string): string {
    if (!isWithin(folder, real))
        throw new EngineError("modelFile", `${file} leads outside ${folder} (to ${real}); a model's files must be inside its folder`);
    return real;
}

/** The real path of `file`, which must lie inside `folder` once symlinks are followed. */
export async function resolveInside(file: string, folder = path.dirname(file)): Promise<string> {
    let real: string;
    let realFolder: string;
    try {
        realFolder = await realpath(folder);
        real = await realpath(file);
    } catch (error) {
        throw accessError(file, error);
    }
    return checkedResolution(file, real, realFolder);
}

export function resolveInsideSync(file: string, folder = path.dirname(file)): string {
    let real: string;
    let realFolder: string;
    try {
        realFolder = realpathSync(folder);
        real = realpathSync(file);
    } catch (error) {
        throw accessError(file, error);
    }
    return checkedResolution(file, real, realFolder);
}

function checkedStats(file: string, stats: Stats, bounds: FileBounds): number {
    if (!stats.isFile())
        throw new EngineError("modelFile", `${file} is ${kindOf(stats)}, not a file`);
    if (bounds.maxBytes !== undefined && stats.size > bounds.maxBytes)
        throw new EngineError("modelFile", `${file} has ${stats.size} bytes, more than the ${bounds.maxBytes} such a file may have`);
    return stats.size;
}

export interface OpenedFile {
    readonly handle: FileHandle;
    readonly size: number;
}

/** Opens a regular file inside its folder; the caller closes the handle. */
export async function openRegularFile(file: string, bounds: FileBounds = {}): Promise<OpenedFile> {
    const real = await resolveInside(file, bounds.inside);
    let handle: FileHandle;
    try {
        handle = await open(real, openFlags);
    } catch (error) {
        throw accessError(file, error);
    }
    try {
        return { handle, size: checkedStats(file, await handle.stat(), bounds) };
    } catch (error) {
        await handle.close();
        throw error;
    }
}

/** The whole of a regular file of at most `bounds.maxBytes` bytes. */
export async function readRegularFile(file: string, bounds: FileBounds & { maxBytes: number }): Promise<Buffer> {
    const { handle, size } = await openRegularFile(file, bounds);
    try {
        const buffer = Buffer.alloc(size);
        let filled = 0;
        while (filled < size) {
            const { bytesRead } = await handle.read(buffer, filled, size - filled, filled);
            if (bytesRead === 0)
                break;
            filled += bytesRead;
        }
        return buffer.subarray(0, filled);
    } finally {
        await handle.close();
    }
}

function readFully(fd: number, length: number): Buffer {
    const bytes = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
        const read = readSync(fd, bytes, filled, length - filled, filled);
        if (read === 0)
            break;
        filled += read;
    }
    return bytes.subarray(0, filled);
}

/** openRegularFile as a plain descriptor, for a reader that takes ownership of it (yauzl closes what it is given). */
export function openRegularFdSync(file: string, bounds: FileBounds = {}): { fd: number; size: number } {
    const real = resolveInsideSync(file, bounds.inside);
    let fd: number;
    try {
        fd = openSync(real, openFlags);
    } catch (error) {
        throw accessError(file, error);
    }
    try {
        return { fd, size: checkedStats(file, fstatSync(fd), bounds) };
    } catch (error) {
        closeSync(fd);
        throw error;
    }
}

function withRegularFdSync<T>(file: string, bounds: FileBounds, use: (fd: number, size: number) => T): T {
    const { fd, size } = openRegularFdSync(file, bounds);
    try {
        return use(fd, size);
    } finally {
        closeSync(fd);
    }
}

/** readRegularFile, synchronously (the loader's checks run before node-llama-cpp opens the files). */
export function readRegularFileSync(file: string, bounds: FileBounds & { maxBytes: number }): Buffer {
    return withRegularFdSync(file, bounds, (fd, size) => readFully(fd, size));
}

/** The first `length` bytes of a regular file inside its folder, and its size. */
export function readHeadSync(file: string, length: number, bounds: FileBounds = {}): { head: Buffer; size: number } {
    return withRegularFdSync(file, bounds, (fd, size) => ({ head: readFully(fd, Math.min(length, size)), size }));
}
