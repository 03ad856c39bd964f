/**
 * The zip container of `torch.save` (PyTorch ≥ 1.6): `<prefix>/data.pkl` (the pickle), `<prefix>/data/<key>`
 * (raw storages), `<prefix>/byteorder`, `<prefix>/version`. The prefix is "archive" or the saved file's stem.
 */
import { open } from "node:fs/promises";
import yauzl from "yauzl";
import { EngineError } from "../engine/protocol/engineError.js";

export interface TorchArchive {
    readonly file: string;
    /** The folder the records sit in, with its trailing slash. */
    readonly prefix: string;
    has(record: string): boolean;
    /** A record's bytes; refuses records larger than `maxBytes`. */
    read(record: string, maxBytes: number): Promise<Buffer>;
    close(): void;
}

const zipMagic = [0x50, 0x4b, 0x03, 0x04];

async function firstBytes(file: string): Promise<Uint8Array> {
    let handle;
    try {
        handle = await open(file, "r");
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new EngineError("modelFile", code === "ENOENT" ? `${file} is missing` : `cannot read ${file} (${code ?? String(error)})`, { cause: error });
    }
    try {
        const head = new Uint8Array(4);
        const { bytesRead } = await handle.read(head, 0, 4, 0);
        return head.subarray(0, bytesRead);
    } finally {
        await handle.close();
    }
}

export async function openTorchArchive(file: string): Promise<TorchArchive> {
    const head = await firstBytes(file);
    if (!zipMagic.every((byte, i) => head[i] === byte)) {
        // The legacy format (torch < 1.6) starts with a pickled magic number: protocol 2's 0x80 0x02.
        throw new EngineError("modelFile", head[0] === 0x80
            ? `${file} is in torch's legacy (pre-1.6) format; re-save it with a current torch.save, which writes a zip archive`
            : `${file} is not a PyTorch file (torch.save writes a zip archive)`);
    }
    let zip: yauzl.ZipFile;
    const entries = new Map<string, yauzl.Entry>();
    try {
        zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: true });
    } catch (error) {
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
