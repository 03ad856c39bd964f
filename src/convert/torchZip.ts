/**
 * The zip container of `torch.save` (PyTorch ≥ 1.6): `<prefix>/data.pkl` (the pickle), `<prefix>/data/<key>`
 * (raw storages), `<prefix>/byteorder`, `<prefix>/version`. The prefix is "archive" or the saved file's stem.
 */
import yauzl from "yauzl";
import { closeSync, readSync } from "node:fs";
import { openRegularFdSync } from "../engine/model/safeFiles.js";
import { EngineError } from "../engine/protocol/EngineError.js";

export interface TorchArchive {
    readonly file: string;
    /** The folder the records sit in, with its trailing slash. */
    readonly prefix: string;
    has(record: string): boolean;
    /** A record's size once decompressed, as its zip entry declares it (checked again while it is read). */
    sizeOf(record: string): number | undefined;
    /** A record's bytes; refuses records larger than `maxBytes`. */
    read(record: string, maxBytes: number): Promise<Buffer>;
    close(): void;
}

const zipMagic = [0x50, 0x4b, 0x03, 0x04];

export async function openTorchArchive(file: string): Promise<TorchArchive> {
    // yauzl reads through this descriptor and closes it, so the file checked is the file read
    const { fd } = openRegularFdSync(file);
    const head = new Uint8Array(4);
    try {
        readSync(fd, head, 0, 4, 0);
    } catch (error) {
        closeSync(fd);
        throw new EngineError("modelFile", `cannot read ${file} (${(error as Error).message})`, { cause: error });
    }
    if (!zipMagic.every((byte, i) => head[i] === byte)) {
        closeSync(fd);
        // The legacy format (torch < 1.6) starts with a pickled magic number: protocol 2's 0x80 0x02.
        throw new EngineError("modelFile", head[0] === 0x80
            ? `${file} is in torch's legacy (pre-1.6) format; re-save it with a current torch.save, which writes a zip archive`
            : `${file} is not a PyTorch file (torch.save writes a zip archive)`);
    }
    let zip: yauzl.ZipFile;
    const entries = new Map<string, yauzl.Entry>();
    try {
        zip = await yauzl.fromFdPromise(fd, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: true });
    } catch (error) {
        closeSync(fd);
        throw new EngineError("modelFile", `${file} is not a readable zip archive (${(error as Error).message})`, { cause: error });
    }
    try {
        for await (const entry of zip.eachEntry())
            entries.set(entry.fileName, entry);
    } catch (error) {
        zip.close();
        throw new EngineError("modelFile", `${file} is a corrupt zip archive (${(error as Error).message})`, { cause: error });
    }
    const pickles = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
    if (pickles.length !== 1) {
        zip.close();
        throw new EngineError("modelFile", pickles.length === 0
            ? `${file} is a zip archive without <folder>/data.pkl, so not a torch.save file`
            : `${file} holds ${pickles.length} data.pkl records; torch.save writes one`);
    }
    const prefix = pickles[0].slice(0, -"data.pkl".length);

    return {
        file,
        prefix,
        has: (record) => entries.has(prefix + record),
        sizeOf: (record) => entries.get(prefix + record)?.uncompressedSize,
        read: async (record, maxBytes) => {
            const entry = entries.get(prefix + record);
            if (entry === undefined)
                throw new EngineError("modelFile", `${file}: the record ${prefix}${record} is missing`);
            if (entry.isEncrypted() || !entry.canDecodeFileData())
                throw new EngineError("modelFile", `${file}: the record ${entry.fileName} is encrypted or compressed with an unsupported method`);
            if (entry.uncompressedSize > maxBytes)
                throw new EngineError("modelFile", `${file}: the record ${entry.fileName} has ${entry.uncompressedSize} bytes, more than the ${maxBytes} expected`);
            try {
                const stream = await zip.openReadStreamPromise(entry);
                const chunks: Buffer[] = [];
                for await (const chunk of stream)
                    chunks.push(chunk as Buffer);
                return Buffer.concat(chunks);
            } catch (error) {
                throw new EngineError("modelFile", `${file}: cannot read the record ${entry.fileName} (${(error as Error).message})`, { cause: error });
            }
        },
        close: () => zip.close(),
    };
}
