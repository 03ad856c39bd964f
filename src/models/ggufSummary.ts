/**
 * What a downloaded GGUF is, from its header (node-llama-cpp's reader, no model load): its architecture, and whether
 * its metadata declares fill-in-the-middle tokens, which ghost text uses (prefix-only completion without them).
 */
import { readGgufFileInfo } from "node-llama-cpp";
import { DownloadError } from "./DownloadError.js";

export interface GgufSummary {
    readonly architecture: string | undefined;
    readonly fim: boolean;
}

export async function readGgufSummary(file: string): Promise<GgufSummary> {
    let info;
    try {
        info = await readGgufFileInfo(file, { logWarnings: false, readTensorInfo: false });
    } catch (error) {
        throw new DownloadError("unsupported", `${file} is not a GGUF file llama.cpp can read (${(error as Error).message})`, { cause: error });
    }
    const ggml: Record<string, unknown> = info.metadata.tokenizer?.ggml ?? {};
    const fim = ["fim_pre_token_id", "fim_suf_token_id", "fim_mid_token_id"].every((key) => typeof ggml[key] === "number");
    const architecture: unknown = info.metadata.general?.architecture;
    return { architecture: typeof architecture === "string" ? architecture : undefined, fim };
}
