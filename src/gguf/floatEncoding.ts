/**
 * float32 ⇄ float16 / bfloat16 conversions with round-to-nearest-even, matching torch's `.to(torch.float16)` and
 * `.to(torch.bfloat16)` bit for bit (including NaN: f16 gives sign|0x7E00, bf16 gives 0x7FC0).
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function float32Bits(value: number): number {
    scratchF32[0] = value;
    return scratchU32[0];
}

/** Rounds a non-negative double to the nearest integer, ties to even. */
function roundHalfEven(x: number): number {
    const floor = Math.floor(x);
    const rest = x - floor;
    if (rest > 0.5 || (rest === 0.5 && floor % 2 === 1))
        return floor + 1;
    return floor;
}

/** The float16 bit pattern of `value` after rounding it to float32. */
export function float32ToFloat16Bits(value: number): number {
    const bits = float32Bits(value);
    const sign = (bits >>> 16) & 0x8000;
    const abs = bits & 0x7fffffff;
    if (abs > 0x7f800000)
        return sign | 0x7e00;
    // 65520 is the midpoint between 65504 (largest half) and 65536; ties go to the even side, which is infinity.
    if (abs >= 0x477ff000)
        return sign | 0x7c00;
    if (abs >= 0x38800000) {
        // Normal half: rebias the exponent and round the 13 dropped mantissa bits; a carry correctly bumps the exponent.
        const mantissa = abs & 0x7fffff;
        let half = (((abs >>> 23) - 112) << 10) | (mantissa >>> 13);
        const dropped = mantissa & 0x1fff;
        if (dropped > 0x1000 || (dropped === 0x1000 && (half & 1) === 1))
            half += 1;
        return sign | half;
    }
    // Subnormal half (or zero): the value in units of 2^-24 is exact in a double, so round it directly.
    scratchU32[0] = abs;
    return sign | roundHalfEven(scratchF32[0] * 2 ** 24);
}

/** The bfloat16 bit pattern of `value` after rounding it to float32. */
export function float32ToBfloat16Bits(value: number): number {
    const bits = float32Bits(value);
    if ((bits & 0x7fffffff) > 0x7f800000)
        return 0x7fc0;
    // Adding 0x7fff plus the lowest kept bit rounds to nearest even; a carry moves into the exponent (up to infinity).
    const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
    return Math.floor(rounded / 0x10000) & 0xffff;
}

export function float16BitsToFloat32(bits: number): number {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >>> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0)
        return sign * mantissa * 2 ** -24;
    if (exponent === 0x1f)
        return mantissa === 0 ? sign * Infinity : NaN;
    return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function bfloat16BitsToFloat32(bits: number): number {
    scratchU32[0] = (bits & 0xffff) << 16;
    return scratchF32[0];
}

export function encodeFloat16(values: Float32Array): Uint16Array {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++)
        out[i] = float32ToFloat16Bits(values[i]);
    return out;
}

export function encodeBfloat16(values: Float32Array): Uint16Array {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++)
        out[i] = float32ToBfloat16Bits(values[i]);
    return out;
}

/** Decodes little-endian float16 bytes (any alignment, e.g. a slice of a safetensors file). */
export function decodeFloat16(bytes: Uint8Array): Float32Array {
    if (bytes.length % 2 !== 0)
        throw new Error(`float16 data has an odd byte length ${bytes.length}`);
    const out = new Float32Array(bytes.length / 2);
    for (let i = 0; i < out.length; i++)
        out[i] = float16BitsToFloat32(bytes[2 * i] | (bytes[2 * i + 1] << 8));
    return out;
}

/** Decodes little-endian bfloat16 bytes (any alignment). */
export function decodeBfloat16(bytes: Uint8Array): Float32Array {
    if (bytes.length % 2 !== 0)
        throw new Error(`bfloat16 data has an odd byte length ${bytes.length}`);
    const out = new Float32Array(bytes.length / 2);
    const outBits = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++)
        outBits[i] = ((bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16) >>> 0;
    return out;
}
