/**
 * The memory the loaded models take together: each distinct model file's weights once (chat and completion may share
 * one) and every role's own KV cache. Undefined when the engine did not report it.
 */
import type { ModelSummary } from "../engine/protocol/engineProtocol.js";

export function loadedMemoryBytes(models: readonly ModelSummary[]): number | undefined {
    if (models.some((model) => model.memory === undefined))
        return undefined;
    const weights = new Map(models.map((model) => [model.path, model.memory?.weightsBytes ?? 0]));
    const kv = models.reduce((sum, model) => sum + (model.memory?.kvCacheBytes ?? 0), 0);
    return [...weights.values()].reduce((sum, bytes) => sum + bytes, kv);
}
