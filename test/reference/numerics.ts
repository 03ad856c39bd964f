/** Plain float64 building blocks for the reference: simple loops, no reordering tricks. */

export type Vector = Float64Array;

/** y = W x for a row-major [out, in] matrix. */
export function matVec(weight: Float32Array, x: ArrayLike<number>, out: number, inp: number): Vector {
    if (weight.length !== out * inp || x.length !== inp)
        throw new Error(`matVec shape mismatch: weight ${weight.length}, [${out}, ${inp}], x ${x.length}`);
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
        let sum = 0;
        const row = o * inp;
        for (let i = 0; i < inp; i++)
            sum += weight[row + i] * x[i];
        y[o] = sum;
    }
    return y;
}

export function add(a: Vector, b: ArrayLike<number>): Vector {
    const y = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++)
        y[i] = a[i] + b[i];
    return y;
}

/** Qwen3 RMSNorm: x / sqrt(mean(x²) + eps) · weight. */
export function rmsNorm(x: ArrayLike<number>, weight: Float32Array, eps: number): Vector {
    let sumSquares = 0;
    for (let i = 0; i < x.length; i++)
        sumSquares += x[i] * x[i];
    const scale = 1 / Math.sqrt(sumSquares / x.length + eps);
    const y = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++)
        y[i] = x[i] * scale * weight[i];
    return y;
}

/** torch.nn.LayerNorm (biased variance). */
export function layerNorm(x: Vector, weight: Float32Array, bias: Float32Array, eps: number): Vector {
    let mean = 0;
    for (let i = 0; i < x.length; i++)
        mean += x[i];
    mean /= x.length;
    let variance = 0;
    for (let i = 0; i < x.length; i++)
        variance += (x[i] - mean) ** 2;
    variance /= x.length;
    const scale = 1 / Math.sqrt(variance + eps);
    const y = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++)
        y[i] = (x[i] - mean) * scale * weight[i] + bias[i];
    return y;
}

/**
 * erf to double precision: erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)). All terms are positive,
 * so there is no cancellation; beyond |x| = 6, erf is ±1 in double precision.
 */
export function erf(x: number): number {
    const ax = Math.abs(x);
    if (ax >= 6)
        return Math.sign(x);
    let term = ax;
    let sum = ax;
    for (let n = 1; term > sum * 1e-17; n++) {
        term *= (2 * ax * ax) / (2 * n + 1);
        sum += term;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum;
}

/** nn.GELU(): the exact erf form. */
export function gelu(x: number): number {
    return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export function silu(x: number): number {
    return x / (1 + Math.exp(-x));
}

export function sigmoid(x: number): number {
    return 1 / (1 + Math.exp(-x));
}

/** Softmax with the maximum subtracted first. */
export function softmax(values: ArrayLike<number>): Vector {
    let max = -Infinity;
    for (let i = 0; i < values.length; i++)
        max = Math.max(max, values[i]);
    const y = new Float64Array(values.length);
    let sum = 0;
    for (let i = 0; i < values.length; i++) {
        y[i] = Math.exp(values[i] - max);
        sum += y[i];
    }
    for (let i = 0; i < values.length; i++)
        y[i] /= sum;
    return y;
}

export interface TopK {
    readonly ids: number[];
    /** Sorted descending. */
    readonly values: number[];
}

/** The k largest entries, descending; equal values keep the lower id first. */
export function topK(values: ArrayLike<number>, k: number): TopK {
    if (k > values.length)
        throw new Error(`top-${k} of only ${values.length} values`);
    const ids = Array.from({ length: values.length }, (_, i) => i);
    ids.sort((a, b) => values[b] - values[a] || a - b);
    const chosen = ids.slice(0, k);
    return { ids: chosen, values: chosen.map((id) => values[id]) };
}

/** Greedy choice: the first index of the maximum. */
export function argmax(values: ArrayLike<number>): number {
    let best = 0;
    for (let i = 1; i < values.length; i++) {
        if (values[i] > values[best])
            best = i;
    }
    return best;
}

/** The largest |a[i] − b[i]|; arrays of different lengths are a bug of the caller. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
    if (a.length !== b.length)
        throw new Error(`comparing ${a.length} values with ${b.length}`);
    let max = 0;
    for (let i = 0; i < a.length; i++)
        max = Math.max(max, Math.abs(a[i] - b[i]));
    return max;
}
