/**
 * A minimal zip writer for stored (uncompressed) entries, laid out as PyTorch's writer (miniz) does: each entry's
 * data starts on a 64-byte boundary, padded through an "FB" extra field in the local header.
 */
import { writeFile } from "node:fs/promises";
import { crc32 } from "node:zlib";

export interface ZipEntry {
    readonly name: string;
    readonly data: Uint8Array;
    /** When given, `data` is a raw deflate stream of `size` bytes whose CRC-32 is `crc` (hostile-input tests). */
    readonly deflated?: { readonly size: number; readonly crc: number };
}

const alignment = 64;
/** 1980-01-01 00:00 in MS-DOS date/time, as torch writes. */
const dosTime = 0;
const dosDate = (0 << 9) | (1 << 5) | 1;

export function zipBytes(entries: readonly ZipEntry[]): Buffer {
    const parts: Buffer[] = [];
    const central: Buffer[] = [];
    let offset = 0;
    for (const entry of entries) {
        const name = Buffer.from(entry.name, "utf8");
        const crc = entry.deflated?.crc ?? crc32(entry.data);
        const method = entry.deflated === undefined ? 0 : 8;
        const size = entry.deflated?.size ?? entry.data.byteLength;
        const headerEnd = offset + 30 + name.length + 4;
        const pad = (alignment - (headerEnd % alignment)) % alignment;
        const extra = Buffer.alloc(4 + pad, "Z");
        extra.writeUInt16LE(0x4246, 0); // "FB"
        extra.writeUInt16LE(pad, 2);
        const local = Buffer.alloc(30);
        local.writeUInt32LE(0x04034b50, 0);
        local.writeUInt16LE(20, 4);
        local.writeUInt16LE(0, 6);
        local.writeUInt16LE(method, 8);
        local.writeUInt16LE(dosTime, 10);
        local.writeUInt16LE(dosDate, 12);
        local.writeUInt32LE(crc, 14);
        local.writeUInt32LE(entry.data.byteLength, 18);
        local.writeUInt32LE(size, 22);
        local.writeUInt16LE(name.length, 26);
        local.writeUInt16LE(extra.length, 28);
        const record = Buffer.alloc(46);
        record.writeUInt32LE(0x02014b50, 0);
        record.writeUInt16LE(20, 4);
        record.writeUInt16LE(20, 6);
        record.writeUInt16LE(0, 8);
        record.writeUInt16LE(method, 10);
        record.writeUInt16LE(dosTime, 12);
        record.writeUInt16LE(dosDate, 14);
        record.writeUInt32LE(crc, 16);
        record.writeUInt32LE(entry.data.byteLength, 20);
        record.writeUInt32LE(size, 24);
        record.writeUInt16LE(name.length, 28);
        record.writeUInt32LE(offset, 42);
        central.push(record, name);
        parts.push(local, name, extra, Buffer.from(entry.data));
        offset += local.length + name.length + extra.length + entry.data.byteLength;
    }
    const directory = Buffer.concat(central);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(directory.length, 12);
    end.writeUInt32LE(offset, 16);
    return Buffer.concat([...parts, directory, end]);
}

export async function writeZip(file: string, entries: readonly ZipEntry[]): Promise<void> {
    await writeFile(file, zipBytes(entries));
}
