/** The KV cache's size per cell from a GGUF's attention metadata (the `<architecture>.` section). */

const bytesPerKvElement = { f16: 2, f32: 4 } as const;

export type KvType = keyof typeof bytesPerKvElement;

function metadataNumber(section: Readonly<Record<string, unknown>> | undefined, key: string): number | undefined {
    let value: unknown = section;
    for (const part of key.split("."))
        value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[part] : undefined;
    return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Bytes of K and V per KV cell over all layers; 0 when the metadata does not say (an unknown architecture). */
export function kvBytesPerCell(section: Readonly<Record<string, unknown>> | undefined, kvType: KvType): number {
    const layers = metadataNumber(section, "block_count") ?? 0;
    const heads = metadataNumber(section, "attention.head_count") ?? 1;
    const kvHeads = metadataNumber(section, "attention.head_count_kv") ?? heads;
    const embedding = metadataNumber(section, "embedding_length") ?? 0;
    const keyLength = metadataNumber(section, "attention.key_length") ?? embedding / heads;
    const valueLength = metadataNumber(section, "attention.value_length") ?? keyLength;
    return layers * kvHeads * (keyLength + valueLength) * bytesPerKvElement[kvType];
}
