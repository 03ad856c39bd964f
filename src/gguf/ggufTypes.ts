/**
 * GGUF v3 value types and the ggml tensor types this project writes.
 * Ids follow `enum gguf_type` (gguf.h) and `enum ggml_type` (ggml.h) of the bundled llama.cpp.
 */

/** Wire ids of GGUF metadata value types. */
export const GgufValueType = {
    uint8: 0,
    int8: 1,
    uint16: 2,
    int16: 3,
    uint32: 4,
    int32: 5,
    float32: 6,
    bool: 7,
    string: 8,
    array: 9,
    uint64: 10,
    int64: 11,
    float64: 12,
} as const;

/** The JavaScript value each scalar GGUF type is given as. */
export interface GgufScalarValueMap {
    uint8: number;
    int8: number;
    uint16: number;
    int16: number;
    uint32: number;
    int32: number;
    uint64: bigint | number;
    int64: bigint | number;
    float32: number;
    float64: number;
    bool: boolean;
    string: string;
}

export type GgufScalarType = keyof GgufScalarValueMap;

export type GgufScalarValue = {
    [T in GgufScalarType]: { readonly type: T; readonly value: GgufScalarValueMap[T] };
}[GgufScalarType];

export type GgufArrayValue = {
    [T in GgufScalarType]: { readonly type: "array"; readonly itemType: T; readonly value: readonly GgufScalarValueMap[T][] };
}[GgufScalarType];

/** A metadata value with an explicit wire type, so numbers never get a guessed width. */
export type GgufMetadataValue = GgufScalarValue | GgufArrayValue;

export type GgufMetadata = Readonly<Record<string, GgufMetadataValue>>;

/** Constructors for tagged metadata values: `gguf.uint32(4)`, `gguf.array("string", ["a"])`. */
export const gguf = {
    uint8: (value: number): GgufScalarValue => ({ type: "uint8", value }),
    int8: (value: number): GgufScalarValue => ({ type: "int8", value }),
    uint16: (value: number): GgufScalarValue => ({ type: "uint16", value }),
    int16: (value: number): GgufScalarValue => ({ type: "int16", value }),
    uint32: (value: number): GgufScalarValue => ({ type: "uint32", value }),
    int32: (value: number): GgufScalarValue => ({ type: "int32", value }),
    uint64: (value: bigint | number): GgufScalarValue => ({ type: "uint64", value }),
    int64: (value: bigint | number): GgufScalarValue => ({ type: "int64", value }),
    float32: (value: number): GgufScalarValue => ({ type: "float32", value }),
    float64: (value: number): GgufScalarValue => ({ type: "float64", value }),
    bool: (value: boolean): GgufScalarValue => ({ type: "bool", value }),
    string: (value: string): GgufScalarValue => ({ type: "string", value }),
    // The assertion is needed because TypeScript cannot match a generic T to one member of the distributed union.
    array: <T extends GgufScalarType>(itemType: T, value: readonly GgufScalarValueMap[T][]): GgufArrayValue =>
        ({ type: "array", itemType, value }) as GgufArrayValue,
} as const;

/** ggml tensor type ids (`enum ggml_type`). Only types with a fixed block layout are listed. */
export const GgmlType = {
    F32: 0,
    F16: 1,
    Q4_0: 2,
    Q4_1: 3,
    Q5_0: 6,
    Q5_1: 7,
    Q8_0: 8,
    Q2_K: 10,
    Q3_K: 11,
    Q4_K: 12,
    Q5_K: 13,
    Q6_K: 14,
    IQ4_NL: 20,
    IQ4_XS: 23,
    I8: 24,
    I16: 25,
    I32: 26,
    I64: 27,
    F64: 28,
    BF16: 30,
} as const;

export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

export interface GgmlTypeLayout {
    readonly name: keyof typeof GgmlType;
    /** Elements per block (1 for plain types). */
    readonly blockSize: number;
    /** Bytes per block. */
    readonly typeSize: number;
}

// Block sizes and byte sizes from ggml.c's type_traits and the static_asserts in ggml-common.h.
const layouts: ReadonlyMap<number, GgmlTypeLayout> = new Map<number, GgmlTypeLayout>([
    [GgmlType.F32, { name: "F32", blockSize: 1, typeSize: 4 }],
    [GgmlType.F16, { name: "F16", blockSize: 1, typeSize: 2 }],
    [GgmlType.Q4_0, { name: "Q4_0", blockSize: 32, typeSize: 18 }],
    [GgmlType.Q4_1, { name: "Q4_1", blockSize: 32, typeSize: 20 }],
    [GgmlType.Q5_0, { name: "Q5_0", blockSize: 32, typeSize: 22 }],
    [GgmlType.Q5_1, { name: "Q5_1", blockSize: 32, typeSize: 24 }],
    [GgmlType.Q8_0, { name: "Q8_0", blockSize: 32, typeSize: 34 }],
    [GgmlType.Q2_K, { name: "Q2_K", blockSize: 256, typeSize: 84 }],
    [GgmlType.Q3_K, { name: "Q3_K", blockSize: 256, typeSize: 110 }],
    [GgmlType.Q4_K, { name: "Q4_K", blockSize: 256, typeSize: 144 }],
    [GgmlType.Q5_K, { name: "Q5_K", blockSize: 256, typeSize: 176 }],
    [GgmlType.Q6_K, { name: "Q6_K", blockSize: 256, typeSize: 210 }],
    [GgmlType.IQ4_NL, { name: "IQ4_NL", blockSize: 32, typeSize: 18 }],
    [GgmlType.IQ4_XS, { name: "IQ4_XS", blockSize: 256, typeSize: 136 }],
    [GgmlType.I8, { name: "I8", blockSize: 1, typeSize: 1 }],
    [GgmlType.I16, { name: "I16", blockSize: 1, typeSize: 2 }],
    [GgmlType.I32, { name: "I32", blockSize: 1, typeSize: 4 }],
    [GgmlType.I64, { name: "I64", blockSize: 1, typeSize: 8 }],
    [GgmlType.F64, { name: "F64", blockSize: 1, typeSize: 8 }],
    [GgmlType.BF16, { name: "BF16", blockSize: 1, typeSize: 2 }],
]);

export function ggmlTypeLayout(type: number): GgmlTypeLayout {
    const layout = layouts.get(type);
    if (layout === undefined)
        throw new Error(`unsupported ggml tensor type ${type}`);
    return layout;
}

/**
 * Bytes a tensor of these dims (ne0 first) and type occupies. Rows (ne0) must hold whole blocks,
 * as ggml requires for quantized types.
 */
export function ggmlTensorByteLength(type: number, dims: readonly number[]): number {
    const layout = ggmlTypeLayout(type);
    const ne0 = dims[0] ?? 1;
    if (ne0 % layout.blockSize !== 0)
        throw new Error(`ne0 = ${ne0} is not a multiple of the ${layout.name} block size ${layout.blockSize}`);
    const elements = dims.reduce((product, dim) => product * dim, 1);
    const bytes = (elements / layout.blockSize) * layout.typeSize;
    if (!Number.isSafeInteger(bytes))
        throw new Error(`tensor of dims [${dims.join(", ")}] is too large`);
    return bytes;
}
