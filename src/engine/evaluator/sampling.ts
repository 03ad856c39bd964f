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
