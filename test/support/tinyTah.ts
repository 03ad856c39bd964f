/**
 * Small random TaH models for tests, deterministic from a seed: the weights as torch-shaped Float32Arrays (for the
 * reference in test/reference/) and the files of docs/model-format.md (tah-model.json, backbone.gguf, lora.gguf,
 * decider.gguf). Each tensor draws from its own seeded stream, so e.g. tied and untied models share every other weight.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { decodeBfloat16, decodeFloat16, encodeBfloat16, encodeFloat16 } from "../../src/gguf/floatEncoding.js";
import { GgmlType, gguf, type GgufMetadata } from "../../src/gguf/ggufTypes.js";
import { writeGguf, type GgufContent, type GgufTensor } from "../../src/gguf/ggufWriter.js";
import {
    loraTargets,
    type DeciderWeights,
    type LayerNormWeights,
    type LinearWeights,
    type LoraPair,
    type LoraTarget,
    type Qwen3LayerWeights,
    type TahModel,
} from "../reference/tahModel.js";
import { runDecider } from "../reference/decider.js";
import { KvStore, duoCausal } from "../reference/kvStore.js";
import { qwen3Forward } from "../reference/qwen3Forward.js";
import { prngFor } from "./prng.js";
import { chatTemplate, tinyVocabulary, tokenize, type TinyVocabulary } from "./tinyTokenizer.js";

export interface TinyTahOptions {
    readonly seed?: number;
    readonly name?: string;
    readonly nLayer?: number;
    readonly nEmbd?: number;
    readonly nHead?: number;
    readonly nHeadKv?: number;
    readonly headDim?: number;
    readonly nFf?: number;
    readonly contextLength?: number;
    /** true: no output.weight; the logits use token_embd. */
    readonly tiedEmbeddings?: boolean;
    readonly ropeFreqBase?: number;
    readonly rmsEps?: number;
    /** How backbone matrices (token_embd, output, projections) are stored; the returned weights carry the rounding. */
    readonly matrixType?: "f32" | "f16" | "bf16";
    /** Decider taps (HF hidden_states indices, each < nLayer): [1,2,3,4] = 4 taps without the embedding, [0,1,2,3,4] = 5 with it. */
    readonly taps?: readonly number[];
    readonly deciderWidth?: number;
    readonly deciderBlocks?: number;
    readonly deciderLayerNormEps?: number;
    readonly logitTopK?: number;
    readonly softEmbeddingTopK?: number;
    readonly loraRank?: number;
    readonly loraAlpha?: number;
    /** The threshold stored in decider.gguf. */
    readonly threshold?: number;
    readonly maxIter?: number;
    /** Standard deviation of token_embd (and output.weight) entries; sets the logit scale. */
    readonly embeddingStd?: number;
    /** Projection weights are N(0, (gain / sqrt(in))²). */
    readonly projectionGain?: number;
    /** Norm weights are 1 + N(0, normNoise²). */
    readonly normNoise?: number;
    /** LoRA B entries are N(0, loraBStd²); A entries are N(0, 1/in). */
    readonly loraBStd?: number;
    /**
     * The decider's last Linear is calibrated on a fixed text so that z has this standard deviation and median 0 there
     * (P(hard) spread around 0.5 instead of saturating, whatever the seed).
     */
    readonly deciderZStd?: number;
    /** Added to the calibrated output bias: shifts every z, moving the P(hard) distribution. */
    readonly deciderBias?: number;
}

export type ResolvedTinyTahOptions = Required<Omit<TinyTahOptions, "name">> & { readonly name: string };

export const tinyTahDefaults: Required<Omit<TinyTahOptions, "name">> = {
    seed: 1,
    nLayer: 6,
    nEmbd: 64,
    nHead: 4,
    nHeadKv: 2,
    headDim: 16,
    nFf: 128,
    contextLength: 4096,
    tiedEmbeddings: true,
    ropeFreqBase: 1e6,
    rmsEps: 1e-6,
    matrixType: "f32",
    taps: [1, 2, 3, 4],
    deciderWidth: 32,
    deciderBlocks: 2,
    deciderLayerNormEps: 1e-5,
    logitTopK: 100,
    softEmbeddingTopK: 100,
    loraRank: 4,
    loraAlpha: 8,
    threshold: 0.5,
    maxIter: 2,
    embeddingStd: 0.25,
    projectionGain: 1,
    normNoise: 0.1,
    loraBStd: 0.04,
    deciderZStd: 1.5,
    deciderBias: 0,
};

export interface TinyTah {
    readonly options: ResolvedTinyTahOptions;
    readonly model: TahModel;
    readonly vocabulary: TinyVocabulary;
}

export interface TinyTahPaths {
    readonly dir: string;
    readonly manifest: string;
    readonly backbone: string;
    readonly lora: string;
    readonly decider: string;
}

const ggmlTypeOf = { f32: GgmlType.F32, f16: GgmlType.F16, bf16: GgmlType.BF16 } as const;

/** llama.cpp tensor names of the LoRA-carrying projections. */
const ggufProjection: Readonly<Record<LoraTarget, string>> = {
    wq: "attn_q", wk: "attn_k", wv: "attn_v", wo: "attn_output", wGate: "ffn_gate", wUp: "ffn_up", wDown: "ffn_down",
};

function resolve(options: TinyTahOptions): ResolvedTinyTahOptions {
    const o = { ...tinyTahDefaults, name: `tiny-tah-seed${options.seed ?? tinyTahDefaults.seed}`, ...options };
    const nVocab = tinyVocabulary.tokens.length;
    if (o.nHead % o.nHeadKv !== 0)
        throw new Error(`nHead ${o.nHead} must be a multiple of nHeadKv ${o.nHeadKv}`);
    if (o.headDim % 2 !== 0)
        throw new Error(`headDim ${o.headDim} must be even for RoPE`);
    if (o.taps.length === 0 || o.taps.some((tap) => !Number.isInteger(tap) || tap < 0 || tap >= o.nLayer))
        throw new Error(`taps [${o.taps.join(", ")}] must be non-empty, each in 0..${o.nLayer - 1}`);
    if (o.logitTopK > nVocab || o.softEmbeddingTopK > nVocab)
        throw new Error(`top-k values must not exceed the vocabulary size ${nVocab}`);
    return o;
}

/** Rounds values the way storing them as `type` would, so the reference sees exactly what the GGUF holds. */
function storedAs(type: ResolvedTinyTahOptions["matrixType"], values: Float32Array): Float32Array {
    if (type === "f16")
        return decodeFloat16(new Uint8Array(encodeFloat16(values).buffer));
    if (type === "bf16")
        return decodeBfloat16(new Uint8Array(encodeBfloat16(values).buffer));
    return values;
}

export function createTinyTah(options: TinyTahOptions = {}): TinyTah {
    const o = resolve(options);
    const nVocab = tinyVocabulary.tokens.length;
    const normals = (label: string, count: number, std: number, mean = 0): Float32Array =>
        prngFor(o.seed, label).normals(count, std, mean);
    const backboneMatrix = (label: string, out: number, inp: number, std = o.projectionGain / Math.sqrt(inp)): Float32Array =>
        storedAs(o.matrixType, normals(label, out * inp, std));
    const norm = (label: string, n: number): Float32Array => normals(label, n, o.normNoise, 1);

    const qDim = o.nHead * o.headDim;
    const kvDim = o.nHeadKv * o.headDim;
    const layers: Qwen3LayerWeights[] = [];
    const loraLayers: Record<LoraTarget, LoraPair>[] = [];
    for (let i = 0; i < o.nLayer; i++) {
        const layer: Qwen3LayerWeights = {
            attnNorm: norm(`blk.${i}.attn_norm`, o.nEmbd),
            wq: backboneMatrix(`blk.${i}.attn_q`, qDim, o.nEmbd),
            wk: backboneMatrix(`blk.${i}.attn_k`, kvDim, o.nEmbd),
            wv: backboneMatrix(`blk.${i}.attn_v`, kvDim, o.nEmbd),
            wo: backboneMatrix(`blk.${i}.attn_output`, o.nEmbd, qDim),
            qNorm: norm(`blk.${i}.attn_q_norm`, o.headDim),
            kNorm: norm(`blk.${i}.attn_k_norm`, o.headDim),
            ffnNorm: norm(`blk.${i}.ffn_norm`, o.nEmbd),
            wGate: backboneMatrix(`blk.${i}.ffn_gate`, o.nFf, o.nEmbd),
            wUp: backboneMatrix(`blk.${i}.ffn_up`, o.nFf, o.nEmbd),
            wDown: backboneMatrix(`blk.${i}.ffn_down`, o.nEmbd, o.nFf),
        };
        layers.push(layer);
        const pairs = {} as Record<LoraTarget, LoraPair>; // every target is set in the loop below
        for (const target of loraTargets) {
            const out = layer[target].length / inputWidth(target, o);
            const inp = inputWidth(target, o);
            pairs[target] = {
                a: normals(`blk.${i}.${ggufProjection[target]}.lora_a`, o.loraRank * inp, 1 / Math.sqrt(inp)),
                b: normals(`blk.${i}.${ggufProjection[target]}.lora_b`, out * o.loraRank, o.loraBStd),
            };
        }
        loraLayers.push(pairs);
    }

    const linear = (label: string, out: number, inp: number, gain = 1): LinearWeights => ({
        weight: normals(`${label}.weight`, out * inp, gain / Math.sqrt(inp)),
        bias: normals(`${label}.bias`, out, 0.1),
    });
    const layerNorm = (label: string, n: number): LayerNormWeights => ({
        weight: normals(`${label}.weight`, n, o.normNoise, 1),
        bias: normals(`${label}.bias`, n, 0.05),
    });
    const d = o.deciderWidth;
    const output = linear("backbone.output_layer.1", 1, d);
    const decider: DeciderWeights = {
        taps: [...o.taps],
        logitTopK: o.logitTopK,
        width: d,
        layerNormEps: o.deciderLayerNormEps,
        logitsProjection: linear("logits_projection", o.nEmbd, o.logitTopK),
        combinedProjection: linear("combined_projection", d, o.taps.length * o.nEmbd + o.nEmbd),
        inputProjection: linear("backbone.input_projection", d, d),
        blocks: Array.from({ length: o.deciderBlocks }, (_, b) => ({
            layerNorm: layerNorm(`backbone.blocks.${b}.layer_norm`, d),
            up: linear(`backbone.blocks.${b}.mlp.0`, 4 * d, d),
            down: linear(`backbone.blocks.${b}.mlp.3`, d, 4 * d),
        })),
        outputNorm: layerNorm("backbone.output_layer.0", d),
        output,
    };

    const model: TahModel = {
        config: {
            nLayer: o.nLayer, nEmbd: o.nEmbd, nHead: o.nHead, nHeadKv: o.nHeadKv, headDim: o.headDim, nFf: o.nFf, nVocab,
            ropeFreqBase: o.ropeFreqBase, rmsEps: o.rmsEps,
        },
        tokenEmbd: backboneMatrix("token_embd", nVocab, o.nEmbd, o.embeddingStd),
        outputNorm: norm("output_norm", o.nEmbd),
        output: o.tiedEmbeddings ? null : backboneMatrix("output", nVocab, o.nEmbd, o.embeddingStd),
        layers,
        lora: { rank: o.loraRank, alpha: o.loraAlpha, layers: loraLayers },
        decider,
        softEmbeddingTopK: o.softEmbeddingTopK,
        threshold: o.threshold,
        maxIter: o.maxIter,
    };
    calibrateDecider(model, o);
    return { options: o, model, vocabulary: tinyVocabulary };
}

const calibrationText = "<|im_start|>user\nWrite def f(x): return x + 1 in the world of code.<|im_end|>\n<|im_start|>assistant\n<think>\n";

/**
 * Rescales the decider's last Linear in place: z = s·(w·LN(x)) + b, with s and b chosen so that z has standard
 * deviation `deciderZStd` and median `deciderBias` over the depth-0 pass of a fixed text.
 */
function calibrateDecider(model: TahModel, o: ResolvedTinyTahOptions): void {
    const output = model.decider.output;
    output.bias[0] = 0;
    const inputs = tokenize(calibrationText, { specials: true }).map((token, position) => ({
        embedding: model.tokenEmbd.subarray(token * o.nEmbd, (token + 1) * o.nEmbd),
        position,
        depth: 0,
    }));
    const raw = qwen3Forward(model, new KvStore(o.nLayer), inputs, { lora: false, visible: duoCausal })
        .map((out) => runDecider(model.decider, out.residuals, out.logits).z);
    const mean = raw.reduce((sum, z) => sum + z, 0) / raw.length;
    const std = Math.sqrt(raw.reduce((sum, z) => sum + (z - mean) ** 2, 0) / raw.length);
    const scale = o.deciderZStd / std;
    const sorted = [...raw].sort((a, b) => a - b);
    const median = (sorted[Math.floor((sorted.length - 1) / 2)] + sorted[Math.ceil((sorted.length - 1) / 2)]) / 2;
    for (let i = 0; i < output.weight.length; i++)
        output.weight[i] = output.weight[i] * scale;
    output.bias[0] = -median * scale + o.deciderBias;
}

function inputWidth(target: LoraTarget, o: ResolvedTinyTahOptions): number {
    if (target === "wo")
        return o.nHead * o.headDim;
    if (target === "wDown")
        return o.nFf;
    return o.nEmbd;
}

/** A torch [out, in] matrix as a GGUF tensor with dims [in, out] (same bytes). */
function matrixTensor(name: string, data: Float32Array, out: number, inp: number, type: GgmlType = GgmlType.F32): GgufTensor {
    return { name, dims: [inp, out], type, data };
}

function vectorTensor(name: string, data: Float32Array): GgufTensor {
    return { name, dims: [data.length], type: GgmlType.F32, data };
}

/** The backbone: a plain qwen3 GGUF with tokenizer and chat template, loadable by llama.cpp without any TaH part. */
export function backboneGgufContent(tiny: TinyTah): GgufContent {
    const { options: o, model, vocabulary: v } = tiny;
    const { nVocab, nEmbd, nFf } = model.config;
    const matrixType = ggmlTypeOf[o.matrixType];
    const qDim = o.nHead * o.headDim;
    const kvDim = o.nHeadKv * o.headDim;
    const metadata: GgufMetadata = {
        "general.architecture": gguf.string("qwen3"),
        "general.name": gguf.string(o.name),
        "qwen3.context_length": gguf.uint32(o.contextLength),
        "qwen3.embedding_length": gguf.uint32(nEmbd),
        "qwen3.block_count": gguf.uint32(o.nLayer),
        "qwen3.feed_forward_length": gguf.uint32(nFf),
        "qwen3.attention.head_count": gguf.uint32(o.nHead),
        "qwen3.attention.head_count_kv": gguf.uint32(o.nHeadKv),
        "qwen3.attention.key_length": gguf.uint32(o.headDim),
        "qwen3.attention.value_length": gguf.uint32(o.headDim),
        "qwen3.attention.layer_norm_rms_epsilon": gguf.float32(o.rmsEps),
        "qwen3.rope.freq_base": gguf.float32(o.ropeFreqBase),
        "tokenizer.ggml.model": gguf.string("gpt2"),
        "tokenizer.ggml.pre": gguf.string("qwen2"),
        "tokenizer.ggml.tokens": gguf.array("string", v.tokens),
        "tokenizer.ggml.token_type": gguf.array("int32", v.tokenTypes),
        "tokenizer.ggml.merges": gguf.array("string", v.merges),
        "tokenizer.ggml.eos_token_id": gguf.uint32(v.special["<|im_end|>"]),
        "tokenizer.ggml.padding_token_id": gguf.uint32(v.special["<|endoftext|>"]),
        "tokenizer.ggml.bos_token_id": gguf.uint32(v.special["<|endoftext|>"]),
        "tokenizer.ggml.add_bos_token": gguf.bool(false),
        "tokenizer.ggml.fim_pre_token_id": gguf.uint32(v.special["<|fim_prefix|>"]),
        "tokenizer.ggml.fim_suf_token_id": gguf.uint32(v.special["<|fim_suffix|>"]),
        "tokenizer.ggml.fim_mid_token_id": gguf.uint32(v.special["<|fim_middle|>"]),
        "tokenizer.ggml.fim_pad_token_id": gguf.uint32(v.special["<|fim_pad|>"]),
        "tokenizer.ggml.fim_rep_token_id": gguf.uint32(v.special["<|repo_name|>"]),
        "tokenizer.ggml.fim_sep_token_id": gguf.uint32(v.special["<|file_sep|>"]),
        "tokenizer.chat_template": gguf.string(chatTemplate),
    };
    const tensors: GgufTensor[] = [
        matrixTensor("token_embd.weight", model.tokenEmbd, nVocab, nEmbd, matrixType),
        vectorTensor("output_norm.weight", model.outputNorm),
    ];
    if (model.output !== null)
        tensors.push(matrixTensor("output.weight", model.output, nVocab, nEmbd, matrixType));
    model.layers.forEach((layer, i) => {
        tensors.push(
            vectorTensor(`blk.${i}.attn_norm.weight`, layer.attnNorm),
            matrixTensor(`blk.${i}.attn_q.weight`, layer.wq, qDim, nEmbd, matrixType),
            matrixTensor(`blk.${i}.attn_k.weight`, layer.wk, kvDim, nEmbd, matrixType),
            matrixTensor(`blk.${i}.attn_v.weight`, layer.wv, kvDim, nEmbd, matrixType),
            matrixTensor(`blk.${i}.attn_output.weight`, layer.wo, nEmbd, qDim, matrixType),
            vectorTensor(`blk.${i}.attn_q_norm.weight`, layer.qNorm),
            vectorTensor(`blk.${i}.attn_k_norm.weight`, layer.kNorm),
            vectorTensor(`blk.${i}.ffn_norm.weight`, layer.ffnNorm),
            matrixTensor(`blk.${i}.ffn_gate.weight`, layer.wGate, nFf, nEmbd, matrixType),
            matrixTensor(`blk.${i}.ffn_up.weight`, layer.wUp, nFf, nEmbd, matrixType),
            matrixTensor(`blk.${i}.ffn_down.weight`, layer.wDown, nEmbd, nFf, matrixType),
        );
    });
    return { metadata, tensors };
}

/** The depth-1 LoRA in llama.cpp's adapter format (docs/model-format.md). */
export function loraGgufContent(tiny: TinyTah): GgufContent {
    const { options: o, model } = tiny;
    const rank = model.lora.rank;
    const tensors: GgufTensor[] = [];
    model.lora.layers.forEach((pairs, i) => {
        for (const target of loraTargets) {
            const inp = inputWidth(target, o);
            const out = pairs[target].b.length / rank;
            const base = `blk.${i}.${ggufProjection[target]}.weight`;
            tensors.push(
                matrixTensor(`${base}.lora_a`, pairs[target].a, rank, inp),
                matrixTensor(`${base}.lora_b`, pairs[target].b, out, rank),
            );
        }
    });
    return {
        metadata: {
            "general.type": gguf.string("adapter"),
            "general.architecture": gguf.string("qwen3"),
            "adapter.type": gguf.string("lora"),
            "adapter.lora.alpha": gguf.float32(model.lora.alpha),
        },
        tensors,
    };
}

/** The decider and TaH's settings (docs/model-format.md), tensors under MLPIterDecider's state-dict names. */
export function deciderGgufContent(tiny: TinyTah): GgufContent {
    const { model } = tiny;
    const dec = model.decider;
    const linear = (name: string, weights: LinearWeights): GgufTensor[] => {
        const out = weights.bias.length;
        return [
            matrixTensor(`${name}.weight`, weights.weight, out, weights.weight.length / out),
            vectorTensor(`${name}.bias`, weights.bias),
        ];
    };
    const norm = (name: string, weights: LayerNormWeights): GgufTensor[] =>
        [vectorTensor(`${name}.weight`, weights.weight), vectorTensor(`${name}.bias`, weights.bias)];
    return {
        metadata: {
            "general.architecture": gguf.string("tah-decider"),
            "tah.decider.taps": gguf.array("int32", dec.taps),
            "tah.decider.logit_top_k": gguf.uint32(dec.logitTopK),
            "tah.soft_embedding_top_k": gguf.uint32(model.softEmbeddingTopK),
            "tah.decider.hidden_size": gguf.uint32(model.config.nEmbd),
            "tah.decider.width": gguf.uint32(dec.width),
            "tah.decider.block_count": gguf.uint32(dec.blocks.length),
            "tah.decider.layer_norm_epsilon": gguf.float32(dec.layerNormEps),
            "tah.decider.gelu": gguf.string("erf"),
            "tah.threshold": gguf.float32(model.threshold),
            "tah.max_iter": gguf.uint32(model.maxIter),
        },
        tensors: [
            ...linear("logits_projection", dec.logitsProjection),
            ...linear("combined_projection", dec.combinedProjection),
            ...linear("backbone.input_projection", dec.inputProjection),
            ...dec.blocks.flatMap((block, b) => [
                ...norm(`backbone.blocks.${b}.layer_norm`, block.layerNorm),
                ...linear(`backbone.blocks.${b}.mlp.0`, block.up),
                ...linear(`backbone.blocks.${b}.mlp.3`, block.down),
            ]),
            ...norm("backbone.output_layer.0", dec.outputNorm),
            ...linear("backbone.output_layer.1", dec.output),
        ],
    };
}

/** Writes only the backbone, as a plain GGUF model. */
export async function writeTinyBackbone(filePath: string, tiny: TinyTah): Promise<void> {
    await writeGguf(filePath, { ...backboneGgufContent(tiny), sync: false });
}

/** Writes the TaH model folder: tah-model.json, backbone.gguf, lora.gguf, decider.gguf. */
export async function writeTinyTahFolder(dir: string, tiny: TinyTah): Promise<TinyTahPaths> {
    await mkdir(dir, { recursive: true });
    const paths: TinyTahPaths = {
        dir,
        manifest: path.join(dir, "tah-model.json"),
        backbone: path.join(dir, "backbone.gguf"),
        lora: path.join(dir, "lora.gguf"),
        decider: path.join(dir, "decider.gguf"),
    };
    // Fixtures are throwaway, so skip the flush to disk (seconds on a busy disk).
    await writeGguf(paths.backbone, { ...backboneGgufContent(tiny), sync: false });
    await writeGguf(paths.lora, { ...loraGgufContent(tiny), sync: false });
    await writeGguf(paths.decider, { ...deciderGgufContent(tiny), sync: false });
    const manifest = {
        format: "tah-copilot-model",
        version: 1,
        name: tiny.options.name,
        backbone: "backbone.gguf",
        lora: "lora.gguf",
        decider: "decider.gguf",
        source: { checkpoint: `test/support/tinyTah.ts seed ${tiny.options.seed}`, type: tiny.options.matrixType },
    };
    await writeFile(paths.manifest, `${JSON.stringify(manifest, null, 4)}\n`);
    return paths;
}

/** Creates a tiny TaH model and writes its folder. */
export async function generateTinyTah(dir: string, options: TinyTahOptions = {}): Promise<TinyTah & { readonly paths: TinyTahPaths }> {
    const tiny = createTinyTah(options);
    return { ...tiny, paths: await writeTinyTahFolder(dir, tiny) };
}
