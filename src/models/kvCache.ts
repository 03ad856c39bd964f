/** The KV cache's size per cell from a GGUF's attention metadata (the `<architecture>.` section). */

const bytesPerKvElement = { f16: 2, f32: 4 } as const;

export type KvType = keyof typeof bytesPerKvElement;

/** Bytes of K and V per KV cell over all layers; 0 when the metadata does not say (an unknown architecture). */
export function kvBytesPerCell(section: (key: string) => number | undefined, kvType: KvType): number {
    const layers = section("block_count") ?? 0;
    const heads = section("attention.head_count") ?? 1;
    const kvHeads = section("attention.head_count_kv") ?? heads;
    const embedding = section("embedding_length") ?? 0;
    const keyLength = section("attention.key_length") ?? embedding / heads;
    const valueLength = section("attention.value_length") ?? keyLength;
    return layers * kvHeads * (keyLength + valueLength) * bytesPerKvElement[kvType];
}
