/** The float dtypes checkpoints hold, and conversion of their bytes to the float types a GGUF tensor may have. */
import { decodeBfloat16, decodeFloat16, encodeBfloat16, encodeFloat16 } from "../gguf/floatEncoding.js";
import { GgmlType } from "../gguf/ggufTypes.js";

/** safetensors' names; torch's float32 / float16 / bfloat16. */
export type FloatDtype = "F32" | "F16" | "BF16";

/** The GGUF float types the converter writes. */
export type GgufFloatType = typeof GgmlType.F32 | typeof GgmlType.F16 | typeof GgmlType.BF16;

/** The GGUF type that stores a dtype's values exactly. */
export const ggufTypeOfDtype: Readonly<Record<FloatDtype, GgufFloatType>> = { F32: GgmlType.F32, F16: GgmlType.F16, BF16: GgmlType.BF16 };

/** Little-endian bytes of `dtype` (any alignment) as float32 values, which hold all three exactly. */
export function decodeFloats(bytes: Uint8Array, dtype: FloatDtype): Float32Array {
    if (dtype === "F16")
        return decodeFloat16(bytes);
    if (dtype === "BF16")
        return decodeBfloat16(bytes);
    if (bytes.byteLength % 4 !== 0)
        throw new Error(`float32 data has a byte length ${bytes.byteLength} that is not a multiple of 4`);
    // Copy: the source may sit at an offset that Float32Array cannot view.
    return new Float32Array(new Uint8Array(bytes).buffer);
}

/** float32 values encoded as a GGUF float type (round to nearest even for F16 and BF16). */
function encodeFloats(values: Float32Array, type: GgufFloatType): Uint8Array {
    const encoded = type === GgmlType.F32 ? values : type === GgmlType.F16 ? encodeFloat16(values) : encodeBfloat16(values);
    return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}

/** Re-encodes a stream of whole-element chunks from `dtype` to `type`; passes them through when they match. */
export async function* convertChunks(chunks: AsyncIterable<Uint8Array>, dtype: FloatDtype, type: GgufFloatType): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks)
        yield ggufTypeOfDtype[dtype] === type ? chunk : encodeFloats(decodeFloats(chunk, dtype), type);
}
