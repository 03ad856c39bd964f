/**
 * The fill-in-the-middle orders a model can be trained on (Bavarian et al. 2022, "Efficient Training of Language
 * Models to Fill in the Middle"): PSM puts the prefix first, SPM the suffix first.
 */
export type FimOrder = "psm" | "spm";

/**
 * The GGUF metadata key that declares which orders the backbone was trained on: "psm", "spm" or "psm,spm".
 * llama.cpp has no standard key for it, so TaH's own `tah.` namespace carries it; a model without the key is taken to
 * know PSM only, the order of every Qwen and StarCoder release.
 */
export const fimOrdersKey = "tah.fim.orders";

function isFimOrder(value: string): value is FimOrder {
    return value === "psm" || value === "spm";
}

/** The orders a metadata value declares; a value naming an unknown order is ignored whole (it is not ours). */
export function parseFimOrders(value: unknown): FimOrder[] {
    if (typeof value !== "string")
        return ["psm"];
    const orders = value.split(",").map((order) => order.trim().toLowerCase());
    return orders.length > 0 && orders.every(isFimOrder) ? [...new Set(orders)] : ["psm"];
}

/**
 * The order to prompt in: SPM whenever the model knows it, because then the part of the prompt that changes while
 * typing (the end of the prefix) comes last and every earlier token's KV survives the keystroke.
 */
export function preferredFimOrder(orders: readonly FimOrder[]): FimOrder {
    return orders.includes("spm") ? "spm" : "psm";
}

/** The orders a backbone's GGUF metadata (as node-llama-cpp parses it, nested at the dots) declares under `tah.fim.orders`. */
export function fimOrdersOf(metadata: object): FimOrder[] {
    const tah = (metadata as { tah?: { fim?: { orders?: unknown } } }).tah;
    return parseFimOrders(tah?.fim?.orders);
}
