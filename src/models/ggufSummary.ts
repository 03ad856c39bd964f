/**
 * What a downloaded GGUF is, from its header (no model load): its architecture, and whether
 * its metadata declares fill-in-the-middle tokens, which ghost text uses (prefix-only completion without them).
 */
import { DownloadError } from "./DownloadError.js";
import { headerNumber, readGgufHeader, type GgufHeader } from "./ggufHeader.js";

export interface GgufSummary {
    readonly architecture: string | undefined;
    readonly fim: boolean;
}

export async function readGgufSummary(file: string): Promise<GgufSummary> {
    let header: GgufHeader;
    try {
        header = await readGgufHeader(file);
    } catch (error) {
        throw new DownloadError("unsupported", `${file} is not a GGUF file llama.cpp can read (${(error as Error).message})`, { cause: error });
    }
    const fim = ["fim_pre_token_id", "fim_suf_token_id", "fim_mid_token_id"].every((key) => headerNumber(header, `tokenizer.ggml.${key}`) !== undefined);
    const architecture = header["general.architecture"];
    return { architecture: typeof architecture === "string" ? architecture : undefined, fim };
}
