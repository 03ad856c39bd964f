/** A small deterministic PRNG for test fixtures: mulberry32 for uniforms, Box-Muller for normals. */
export class Prng {
    private state: number;
    private spareNormal: number | undefined;

    constructor(seed: number) {
        this.state = seed >>> 0;
    }

    /** Uniform in [0, 1). */
    uniform(): number {
        this.state = (this.state + 0x6d2b79f5) >>> 0;
        let t = this.state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }

    /** Standard normal; Box-Muller yields two values per pair of uniforms, the second is kept for the next call. */
    normal(): number {
        if (this.spareNormal !== undefined) {
            const value = this.spareNormal;
            this.spareNormal = undefined;
            return value;
        }
        const u1 = 1 - this.uniform(); // (0, 1], so the log is finite
        const u2 = this.uniform();
        const radius = Math.sqrt(-2 * Math.log(u1));
        this.spareNormal = radius * Math.sin(2 * Math.PI * u2);
        return radius * Math.cos(2 * Math.PI * u2);
    }

    /** `count` values drawn from N(mean, std²), rounded to float32. */
    normals(count: number, std: number, mean = 0): Float32Array {
        const out = new Float32Array(count);
        for (let i = 0; i < count; i++)
            out[i] = mean + std * this.normal();
        return out;
    }
}

/** A PRNG whose stream depends on the seed and a label, so each tensor's values do not depend on which others exist. */
export function prngFor(seed: number, label: string): Prng {
    // FNV-1a over the label, mixed with the seed.
    let hash = 0x811c9dc5 ^ (seed >>> 0);
    for (let i = 0; i < label.length; i++) {
        hash ^= label.charCodeAt(i);
        hash = Math.imul(hash, 0x01000193);
    }
    return new Prng(hash >>> 0);
}
