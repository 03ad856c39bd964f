/**
 * The `--type` choices: what the backbone's matrices become. Float types are written directly; quantized types are
 * made by llama.cpp's own quantizer (llama_model_quantize) from a lossless intermediate GGUF.
 */
import { GgmlType } from "../gguf/ggufTypes.js";
import type { GgufFloatType } from "./floatData.js";

export interface OutputType {
    /** llama.cpp's `enum llama_ftype`, written as general.file_type and passed to the quantizer. */
    readonly ftype: number;
    /** The type float matrices are written in, or "quantize" for llama.cpp's quantizer. */
    readonly backbone: GgufFloatType | "quantize";
    /**
     * The LoRA's type. F32 with f32 keeps the conversion exact; otherwise 16 bits, as llama.cpp's
     * convert_lora_to_gguf.py writes (the CPU backend rounds activations to 16 bits for 16-bit weights anyway).
     */
    readonly lora: GgufFloatType;
}

const quantized = (ftype: number): OutputType => ({ ftype, backbone: "quantize", lora: GgmlType.F16 });

export const outputTypes = {
    f32: { ftype: 0, backbone: GgmlType.F32, lora: GgmlType.F32 },
    f16: { ftype: 1, backbone: GgmlType.F16, lora: GgmlType.F16 },
    bf16: { ftype: 32, backbone: GgmlType.BF16, lora: GgmlType.BF16 },
    q8_0: quantized(7),
    q6_k: quantized(18),
    q5_k_m: quantized(17),
    q5_k_s: quantized(16),
    q5_1: quantized(9),
    q5_0: quantized(8),
    q4_k_m: quantized(15),
    q4_k_s: quantized(14),
    q4_1: quantized(3),
    q4_0: quantized(2),
    q3_k_l: quantized(13),
    q3_k_m: quantized(12),
    q3_k_s: quantized(11),
    q2_k: quantized(10),
} as const satisfies Record<string, OutputType>;

export type OutputTypeName = keyof typeof outputTypes;

export const outputTypeNames = Object.keys(outputTypes) as OutputTypeName[];

export function isOutputTypeName(name: string): name is OutputTypeName {
    return Object.hasOwn(outputTypes, name);
}
