/** The TaH classes that native-patches/addon/ adds to node-llama-cpp's addon (see AddonTahModel.h, AddonTahContext.h). */

export interface TahModelInfo {
    nEmbd: number;
    nLayer: number;
    nVocab: number;
    isTah: boolean;
    /** 1: TaH v1 (or a plain model), 2: TaH2. */
    generation: 1 | 2;
    taps?: number[];
    logitTopK?: number;
    softEmbeddingTopK?: number;
    deciderWidth?: number;
    deciderBlocks?: number;
    threshold?: number;
    /** The depths a token may run: 2 for v1, max_iter for TaH2. */
    maxIter?: number;
    /** TaH2: the input updater's MLP width. */
    updaterWidth?: number;
}

export interface AddonTahModel {
    init(): Promise<void>;
    getInfo(): TahModelInfo;
    dispose(): void;
}

export interface AddonTahContextOptions {
    positionsPerSequence: number;
    kvCells: number;
    batchSize: number;
    sequences: number;
    threads: number;
    /** -1 auto, 0 off, 1 on */
    flashAttention?: number;
    /** a ggml type id for K and V (1 = F16, 0 = F32) */
    kvType?: number;
    /** 1: run one full-size embedding-input batch at creation so that compute buffers never grow mid-run */
    preallocateDepth1?: number;
}

export interface NativeSampling {
    temperature: number;
    topK: number;
    topP: number;
    minP: number;
    seed: number;
}

export interface NativeStepOptions {
    threshold: number;
    recordTopN: number;
    recordFrom: number;
    sample?: NativeSampling;
}

export interface NativeStepTimings {
    depth0Us: number;
    deciderUs: number;
    selectUs: number;
    loraUs: number;
    depth1Us: number;
    sampleUs: number;
}

/** Per-token records as structure of arrays; row r is batch index recordFrom + r. */
export interface NativeStepResult {
    recordFrom: number;
    records: number;
    topN: number;
    iteratedCount: number;
    /** The decider's probability after depth 0 (v1 P(hard), TaH2 g_0); NaN without a decider. */
    pHard: Float32Array;
    iterated: Uint8Array;
    /** The deepest depth each token ran, 0-based. */
    depth: Uint8Array;
    /** Entries per record in pContinue: 1 for v1, max_iter − 1 for TaH2. */
    pContinueStride: number;
    /** The decider's probability at each depth it ran at, NaN where it did not. */
    pContinue: Float32Array;
    top0Ids: Int32Array;
    top0Logits: Float32Array;
    lse0: Float64Array;
    /** Final candidates: v1 the summed logits; TaH2 the mixture's log-probabilities (with lseFinal 0). */
    topFinalIds: Int32Array;
    topFinalLogits: Float32Array;
    lseFinal: Float64Array;
    nextToken: number;
    timings: NativeStepTimings;
}

export interface AddonTahContext {
    init(): Promise<void>;
    evaluate(sequence: number, tokens: Uint32Array, options: NativeStepOptions): Promise<NativeStepResult>;
    removeFrom(sequence: number, position: number): void;
    nextPosition(sequence: number): number;
    abort(): void;
    dispose(): void;
}

export interface NativeBackendDevice {
    /** ggml's name of the backend that owns the device: "CPU", "Vulkan", "CUDA". */
    backend: string;
    name: string;
    description: string;
    type: "cpu" | "gpu" | "igpu" | "accel";
}

/** What ggml's registry loaded (native-patches/addon/TahBackendInfo.cpp). */
export interface NativeBackendInfo {
    /** The CPU variant ggml chose ("haswell", "sandybridge", …; "built-in" without variants); absent: no CPU backend. */
    cpuVariant?: string;
    cpuBackendFile?: string;
    /** Whether the Vulkan loader library is present on this system. */
    vulkanLoader: boolean;
    /** The names of the registered backends. */
    backends: string[];
    devices: NativeBackendDevice[];
}

/** The subset of node-llama-cpp's addon exports that TaH uses. */
export interface TahBindings {
    tahBuildInfo(): { buildId: string };
    tahBackendInfo(): NativeBackendInfo;
    /** llama.cpp's quantizer; ftype is a llama_ftype (7 = Q8_0, 15 = Q4_K_M, …). */
    tahQuantize(inputPath: string, outputPath: string, options: { ftype: number; threads: number }): Promise<void>;
    AddonTahModel: new (addonModel: object, options: { loraPath?: string; deciderPath?: string; tah2Path?: string }) => AddonTahModel;
    AddonTahContext: new (model: AddonTahModel, options: AddonTahContextOptions) => AddonTahContext;
}
