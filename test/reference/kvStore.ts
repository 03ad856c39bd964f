import type { Vector } from "./numerics.js";

/** Where a KV entry (or a query) sits: its RoPE position and its depth (0 = ordinary pass, 1, 2, … = latent iterations). */
export interface Slot {
    readonly position: number;
    readonly depth: number;
}

/** Which entries a query may attend to. */
export type Visibility = (query: Slot, entry: Slot) => boolean;

/** TaH's duo-causal rule (tah-inference.md §5.1; TaH2 keeps it for any number of depths, tah2-inference.md §3.1): p' ≤ p and d' ≤ d. */
export const duoCausal: Visibility = (query, entry) => entry.position <= query.position && entry.depth <= query.depth;

/**
 * An explicit KV cache: one list of entries shared by all layers, each entry holding post-norm, post-RoPE keys and the
 * values for every layer. Entries are never removed; a (position, depth) pair may exist only once.
 */
export class KvStore {
    readonly slots: Slot[] = [];
    /** keys[layer][entry], values[layer][entry]: nHeadKv·headDim each, head-major. */
    readonly keys: Vector[][];
    readonly values: Vector[][];

    constructor(nLayer: number) {
        this.keys = Array.from({ length: nLayer }, () => []);
        this.values = Array.from({ length: nLayer }, () => []);
    }

    /** Reserves an entry; its per-layer keys and values are filled by the forward pass, layer by layer. */
    add(slot: Slot): number {
        if (this.slots.some((s) => s.position === slot.position && s.depth === slot.depth))
            throw new Error(`KV entry at position ${slot.position}, depth ${slot.depth} already exists`);
        this.slots.push(slot);
        return this.slots.length - 1;
    }

    setLayer(layer: number, entry: number, key: Vector, value: Vector): void {
        this.keys[layer][entry] = key;
        this.values[layer][entry] = value;
    }
}
