/** Sampling in the reference's order (tah-inference.md §6.1): temperature, softmax, min-p, top-k, top-p, draw. */
export interface SamplingOptions {
    /** 0 = greedy */
    temperature: number;
    topK: number;
    topP: number;
    minP: number;
    seed: number;
}

export const greedy: SamplingOptions = { temperature: 0, topK: 0, topP: 1, minP: 0, seed: 0 };

/** The reference's evaluation settings for TaH-plus-1.7B. */
export const referenceSampling: SamplingOptions = { temperature: 0.6, topK: 20, topP: 0.95, minP: 0, seed: 0 };

/**
 * The sampling of a generation's step `index`: its own seed per step. The native sampler keeps its random state while
 * the settings stay the same, so with one seed for every step a second generation with that seed would continue the
 * first one's random stream instead of repeating it; a seed per step makes a seeded generation reproducible.
 */
export function samplingAtStep(sampling: SamplingOptions, index: number): SamplingOptions {
    if (sampling.temperature <= 0)
        return sampling;
    // the golden-ratio increment spreads consecutive steps' seeds over the 32-bit range
    return { ...sampling, seed: (sampling.seed + Math.imul(index + 1, 0x9e37_79b9)) >>> 0 };
}
