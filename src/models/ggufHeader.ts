/**
 * A GGUF file's metadata, read from its header with Hugging Face's parser (@huggingface/gguf): the extension host
 * cannot load node-llama-cpp (an ES module graph with top-level await, which VS Code's require() refuses), and only
 * needs a few header values. Keys are flat, as GGUF stores them ("general.architecture", "qwen3.block_count").
 */
import { gguf } from "@huggingface/gguf";

export type GgufHeader = Readonly<Record<string, unknown>>;

export async function readGgufHeader(file: string): Promise<GgufHeader> {
    const { metadata } = await gguf(file, { allowLocalFile: true });
    // the parser types known architectures only; every key is read by name here
    return metadata as unknown as GgufHeader;
}

/** A numeric header value (GGUF's 64-bit integers come as bigint). */
export function headerNumber(header: GgufHeader, key: string): number | undefined {
    const value = header[key];
    if (typeof value === "bigint")
        return Number(value);
    return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The value of `<architecture>.<key>` (the architecture's own section). */
export function architectureNumber(header: GgufHeader, key: string): number | undefined {
    const architecture = header["general.architecture"];
    return typeof architecture === "string" ? headerNumber(header, `${architecture}.${key}`) : undefined;
}
