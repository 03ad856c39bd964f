/**
 * Small random TaH2 models, deterministic from a seed, and their checkpoints in upstream's layout
 * (tah2-inference.md §1.1): config.json, generation_config.json, bf16 model.safetensors (or shards + index),
 * tokenizer files with eos = pad = <|im_end|>, tah_config.json, and input_updater.bin / iter_decider.bin as
 * torch.save'd {"class", "state_dict", "init_args"} dicts. Every tensor is stored as bfloat16, as upstream's
 * save_model_tp casts them; the model returned holds exactly the stored values.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Vector } from "../reference/numerics.js";
import { runTah2Reference } from "../reference/tah2/runTah2Reference.js";
import { deciderScoreInput } from "../reference/tah2/smallNets.js";
import type { SwiGluWeights, Tah2DeciderWeights, Tah2Model, UpdaterWeights } from "../reference/tah2/tah2Model.js";
import type { Qwen3LayerWeights, Qwen3Weights } from "../reference/tahModel.js";
import { writeTokenizerFiles } from "./hfTokenizerWriter.js";
import { PyDict, PyFloat, type PyValue } from "./pickleWriter.js";
import { prngFor } from "./prng.js";
import { writeSafetensors, writeShardedSafetensors } from "./safetensorsWriter.js";
import { backboneTensors } from "./syntheticCheckpoint.js";
import { storedAs } from "./syntheticCheckpoint.js";
import { tinyVocabulary, tokenize } from "./tinyTokenizer.js";
import { TorchSave } from "./torchSaveWriter.js";

export interface Tah2CheckpointOptions {
    readonly seed?: number;
    readonly nLayer?: number;
    readonly nEmbd?: number;
    readonly nHead?: number;
    readonly nHeadKv?: number;
    readonly headDim?: number;
    /** The backbone's MLP width. */
    readonly nFf?: number;
    /** The input updater's MLP width (intermediate_size of input_updater_kwargs). */
    readonly updaterWidth?: number;
    /** The decider's MLP width (intermediate_size of iter_decider_kwargs). */
    readonly deciderWidth?: number;
    /**
     * The decider's topk as the files state it. Upstream can only run topk = hidden_size (norm_l has hidden_size
     * weights), which is the default; another value makes a checkpoint that a converter must refuse.
     */
    readonly deciderTopK?: number;
    /** true: no lm_head.weight; the logits use the embedding. */
    readonly tiedEmbeddings?: boolean;
    readonly maxIter?: number;
    /** iter_decider_kwargs.threshold, init_args.threshold and the threshold buffer. */
    readonly threshold?: number;
    /** 1: model.safetensors; more: model-0000i-of-0000n.safetensors + index. */
    readonly shards?: number;
    /** Embedding rows beyond the tokenizer's tokens (config.json's vocab_size is larger, as in Qwen3). */
    readonly vocabPadding?: number;
    readonly contextLength?: number;
    readonly ropeFreqBase?: number;
    readonly rmsEps?: number;
    /** Standard deviation of the embedding (and lm_head) entries; sets the logit scale. */
    readonly embeddingStd?: number;
    /** Matrices are N(0, (gain / sqrt(in))²). */
    readonly projectionGain?: number;
    /** Norm weights are 1 + N(0, normNoise²). */
    readonly normNoise?: number;
    /**
     * The decider's score row is calibrated on a fixed text run through every depth so that z has this standard
     * deviation and mean `deciderBias` there: continue probabilities spread around 0.5 instead of saturating.
     */
    readonly deciderZStd?: number;
    readonly deciderBias?: number;
}

export type ResolvedTah2Options = Required<Tah2CheckpointOptions>;

export const tah2Defaults: Omit<ResolvedTah2Options, "deciderTopK"> = {
    seed: 1,
    nLayer: 2,
    nEmbd: 32,
    nHead: 4,
    nHeadKv: 2,
    headDim: 8,
    nFf: 64,
    updaterWidth: 48,
    deciderWidth: 40,
    tiedEmbeddings: true,
    maxIter: 2,
    threshold: 0.5,
    shards: 1,
    vocabPadding: 0,
    contextLength: 4096,
    ropeFreqBase: 1e6,
    rmsEps: 1e-6,
    embeddingStd: 0.25,
    projectionGain: 1,
    normNoise: 0.1,
    deciderZStd: 1.5,
    deciderBias: 0,
};

export interface Tah2Fixture {
    readonly options: ResolvedTah2Options;
    /** The weights as the checkpoint stores them (bfloat16 values). */
    readonly model: Tah2Model;
}

export interface Tah2Checkpoint extends Tah2Fixture {
    readonly dir: string;
}

/** Upstream's RMSNorm default in both small networks; recipes never set it. */
const smallNetEps = 1e-6;

const calibrationText = "<|im_start|>user\nWrite def f(x): return x + 1 in the world of code.<|im_end|>\n<|im_start|>assistant\n<think>\n";

function resolve(options: Tah2CheckpointOptions): ResolvedTah2Options {
    const o = { ...tah2Defaults, deciderTopK: options.nEmbd ?? tah2Defaults.nEmbd, ...options };
    if (o.nHead % o.nHeadKv !== 0)
        throw new Error(`nHead ${o.nHead} must be a multiple of nHeadKv ${o.nHeadKv}`);
    if (o.headDim % 2 !== 0)
        throw new Error(`headDim ${o.headDim} must be even for RoPE`);
    if (!Number.isInteger(o.maxIter) || o.maxIter < 2)
        throw new Error(`maxIter ${o.maxIter}: a TaH2 checkpoint has at least 2 depths`);
    return o;
}

const bf16 = (values: Float32Array): Float32Array => storedAs("BF16", values);

/** The random weights, rounded to bfloat16, with the decider's score row calibrated (see deciderZStd). */
export function createTah2Model(options: Tah2CheckpointOptions = {}): Tah2Fixture {
    const o = resolve(options);
    const nVocab = tinyVocabulary.tokens.length + o.vocabPadding;
    const h = o.nEmbd;
    const normals = (label: string, count: number, std: number, mean = 0): Float32Array =>
        bf16(prngFor(o.seed, label).normals(count, std, mean));
    const matrix = (label: string, out: number, inp: number, std = o.projectionGain / Math.sqrt(inp)): Float32Array => normals(label, out * inp, std);
    const norm = (label: string, n: number): Float32Array => normals(label, n, o.normNoise, 1);
    const swiGlu = (prefix: string, width: number): SwiGluWeights => ({
        gate: matrix(`${prefix}.gate_proj`, width, h), up: matrix(`${prefix}.up_proj`, width, h), down: matrix(`${prefix}.down_proj`, h, width), width,
    });

    const qDim = o.nHead * o.headDim;
    const kvDim = o.nHeadKv * o.headDim;
    const layers: Qwen3LayerWeights[] = Array.from({ length: o.nLayer }, (_, i) => {
        const p = `model.layers.${i}`;
        return {
            attnNorm: norm(`${p}.input_layernorm`, h),
            wq: matrix(`${p}.self_attn.q_proj`, qDim, h),
            wk: matrix(`${p}.self_attn.k_proj`, kvDim, h),
            wv: matrix(`${p}.self_attn.v_proj`, kvDim, h),
            wo: matrix(`${p}.self_attn.o_proj`, h, qDim),
            qNorm: norm(`${p}.self_attn.q_norm`, o.headDim),
            kNorm: norm(`${p}.self_attn.k_norm`, o.headDim),
            ffnNorm: norm(`${p}.post_attention_layernorm`, h),
            wGate: matrix(`${p}.mlp.gate_proj`, o.nFf, h),
            wUp: matrix(`${p}.mlp.up_proj`, o.nFf, h),
            wDown: matrix(`${p}.mlp.down_proj`, h, o.nFf),
        };
    });
    const backbone: Qwen3Weights = {
        config: { nLayer: o.nLayer, nEmbd: h, nHead: o.nHead, nHeadKv: o.nHeadKv, headDim: o.headDim, nFf: o.nFf, nVocab, ropeFreqBase: o.ropeFreqBase, rmsEps: o.rmsEps },
        tokenEmbd: matrix("model.embed_tokens", nVocab, h, o.embeddingStd),
        outputNorm: norm("model.norm", h),
        output: o.tiedEmbeddings ? null : matrix("lm_head", nVocab, h, o.embeddingStd),
        layers,
    };
    const updater: UpdaterWeights = {
        normPrev: norm("updater.norm_prev", h),
        normLast: norm("updater.norm_last", h),
        projection: matrix("updater.projection", h, 2 * h),
        normPreMlp: norm("updater.norm_pre_mlp", h),
        mlp: swiGlu("updater.mlp", o.updaterWidth),
        normOut: norm("updater.norm_out", h),
        eps: smallNetEps,
    };
    const decider: Tah2DeciderWeights = {
        normFirst: norm("decider.norm_first", h),
        normLast: norm("decider.norm_last", h),
        normL: norm("decider.norm_l", h),
        inputProj: matrix("decider.input_proj", h, 3 * h),
        mlp: swiGlu("decider.mlp", o.deciderWidth),
        normOut: norm("decider.norm_out", h),
        score: new Float32Array(h),
        topK: o.deciderTopK,
        eps: smallNetEps,
    };
    const model: Tah2Model = { backbone, updater, decider, maxIter: o.maxIter, threshold: bf16(Float32Array.of(o.threshold))[0] };
    return { options: o, model: { ...model, decider: { ...decider, score: calibratedScore(model, o) } } };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
    let sum = 0;
    for (let i = 0; i < a.length; i++)
        sum += a[i] * b[i];
    return sum;
}

/**
 * score = α·r⊥ + β·m/|m|², where m is the mean of the vectors the score is dotted with over every (token, depth) of
 * the calibration text, r⊥ a random row orthogonal to m and α sets the spread: z then has mean exactly β and
 * standard deviation deciderZStd over that text. The score has no bias, so the mean needs the m direction. With
 * threshold 0 every token runs every depth whatever the score, so one run sees every depth's inputs.
 */
function calibratedScore(model: Tah2Model, o: ResolvedTah2Options): Float32Array {
    const h = o.nEmbd;
    // A checkpoint that states another topk cannot run (the point of such a fixture); calibrate as if it said hidden_size.
    const runnable = { ...model, decider: { ...model.decider, topK: h } };
    const run = runTah2Reference(runnable, { promptTokens: tokenize(calibrationText, { specials: true }), steps: 0, threshold: 0 });
    const inputs: Vector[] = run.records.flatMap((record) => record.depths.filter((depth) => depth.z !== null).map((depth) => {
        const embedding = model.backbone.tokenEmbd.subarray(record.token * h, (record.token + 1) * h);
        return deciderScoreInput(runnable.decider, embedding, depth.hidden, depth.logits);
    }));
    const mean = new Float64Array(h);
    for (const x of inputs) {
        for (let i = 0; i < h; i++)
            mean[i] += x[i] / inputs.length;
    }
    const meanSquare = dot(mean, mean);
    const random = prngFor(o.seed, "decider.score").normals(h, 1);
    const along = dot(random, mean) / meanSquare;
    const orthogonal = Float64Array.from(random, (value, i) => value - along * mean[i]);
    const spread = inputs.map((x) => dot(orthogonal, x));
    const std = Math.sqrt(spread.reduce((sum, z) => sum + z * z, 0) / spread.length);
    const scale = o.deciderZStd / std;
    return bf16(Float32Array.from(orthogonal, (value, i) => scale * value + (o.deciderBias * mean[i]) / meanSquare));
}

/** A component file's dict, as upstream's component_io saves it; state-dict entries in module registration order. */
function componentFile(save: TorchSave, className: string, tensors: readonly [string, readonly number[], Float32Array][], initArgs: [string, PyValue][]): PyDict {
    return new PyDict([
        ["class", className],
        ["state_dict", new PyDict(tensors.map(([name, shape, data]) => [name, save.tensor("bfloat16", shape, data)]))],
        ["init_args", new PyDict(initArgs)],
    ]);
}

function updaterTensors(u: UpdaterWeights, h: number): [string, number[], Float32Array][] {
    return [
        ["projection.weight", [h, 2 * h], u.projection],
        ["mlp.gate_proj.weight", [u.mlp.width, h], u.mlp.gate],
        ["mlp.up_proj.weight", [u.mlp.width, h], u.mlp.up],
        ["mlp.down_proj.weight", [h, u.mlp.width], u.mlp.down],
        ["norm_prev.weight", [h], u.normPrev],
        ["norm_last.weight", [h], u.normLast],
        ["norm_pre_mlp.weight", [h], u.normPreMlp],
        ["norm_out.weight", [h], u.normOut],
    ];
}

function deciderTensors(d: Tah2DeciderWeights, h: number, threshold: number): [string, number[], Float32Array][] {
    return [
        ["threshold", [], Float32Array.of(threshold)],
        ["norm_first.weight", [h], d.normFirst],
        ["norm_last.weight", [h], d.normLast],
        ["norm_l.weight", [h], d.normL],
        ["input_proj.weight", [h, 3 * h], d.inputProj],
        ["mlp.gate_proj.weight", [d.mlp.width, h], d.mlp.gate],
        ["mlp.up_proj.weight", [d.mlp.width, h], d.mlp.up],
        ["mlp.down_proj.weight", [h, d.mlp.width], d.mlp.down],
        ["norm_out.weight", [h], d.normOut],
        ["score.weight", [1, h], d.score],
    ];
}

/** JSON as Python's json.dump(sort_keys=True, indent=2) orders it. */
function sortedJson(value: Record<string, unknown>): string {
    return JSON.stringify(Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), null, 2);
}

async function writeTokenizer(dir: string): Promise<void> {
    await writeTokenizerFiles(dir);
    // save_model_tp rewrites the pad token to the turn-ending token as well (§1.2).
    const configFile = path.join(dir, "tokenizer_config.json");
    const config = JSON.parse(await readFile(configFile, "utf8")) as Record<string, unknown>;
    await writeFile(configFile, JSON.stringify({ ...config, pad_token: "<|im_end|>" }, null, 2));
    const token = (content: string): Record<string, unknown> => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false });
    const specialTokensMap = { additional_special_tokens: ["<|im_start|>", "<|im_end|>"], eos_token: token("<|im_end|>"), pad_token: token("<|im_end|>") };
    await writeFile(path.join(dir, "special_tokens_map.json"), JSON.stringify(specialTokensMap, null, 2));
}

/** Creates a model (createTah2Model) and writes its checkpoint to `dir`. */
export async function writeTah2Checkpoint(dir: string, options: Tah2CheckpointOptions = {}): Promise<Tah2Checkpoint> {
    const fixture = createTah2Model(options);
    const { options: o, model } = fixture;
    const special = tinyVocabulary.special;
    const h = o.nEmbd;
    await mkdir(dir, { recursive: true });

    const config = {
        architectures: ["Qwen3ForCausalLM"], attention_bias: false, attention_dropout: 0, bos_token_id: special["<|endoftext|>"], dtype: "bfloat16",
        eos_token_id: special["<|im_end|>"], head_dim: o.headDim, hidden_act: "silu", hidden_size: h, initializer_range: 0.02,
        intermediate_size: o.nFf, layer_types: new Array<string>(o.nLayer).fill("full_attention"), max_position_embeddings: o.contextLength,
        max_window_layers: o.nLayer, model_type: "qwen3", num_attention_heads: o.nHead, num_hidden_layers: o.nLayer,
        num_key_value_heads: o.nHeadKv, pad_token_id: special["<|im_end|>"], rms_norm_eps: o.rmsEps, rope_scaling: null,
        rope_theta: o.ropeFreqBase, sliding_window: null, tie_word_embeddings: o.tiedEmbeddings, torch_dtype: "bfloat16",
        transformers_version: "4.57.1", use_cache: true, use_sliding_window: false, vocab_size: model.backbone.config.nVocab,
    };
    await writeFile(path.join(dir, "config.json"), sortedJson(config));
    const generation = { bos_token_id: special["<|endoftext|>"], eos_token_id: special["<|im_end|>"], pad_token_id: special["<|im_end|>"], transformers_version: "4.57.1" };
    await writeFile(path.join(dir, "generation_config.json"), sortedJson(generation));
    await writeTokenizer(dir);

    const backbone = backboneTensors(model.backbone, "BF16");
    if (o.shards > 1)
        await writeShardedSafetensors(dir, backbone, o.shards);
    else
        await writeSafetensors(path.join(dir, "model.safetensors"), backbone);

    const updaterKwargs: [string, PyValue][] = [["hidden_size", h], ["intermediate_size", o.updaterWidth]];
    const deciderKwargs: [string, PyValue][] = [["hidden_size", h], ["intermediate_size", o.deciderWidth], ["threshold", new PyFloat(o.threshold)], ["topk", o.deciderTopK]];
    // torch.save to a path names the archive folder after the file's stem.
    const updaterSave = new TorchSave();
    await updaterSave.write(path.join(dir, "input_updater.bin"), componentFile(updaterSave, "Qwen3MLPUpdater", updaterTensors(model.updater, h), updaterKwargs), "input_updater");
    const deciderSave = new TorchSave();
    const deciderInitArgs: [string, PyValue][] = [...deciderKwargs, ["max_iter", o.maxIter], ["memory_lean_fp32_reductions", true]];
    await deciderSave.write(path.join(dir, "iter_decider.bin"), componentFile(deciderSave, "Qwen3MLPIterDecider", deciderTensors(model.decider, h, model.threshold), deciderInitArgs), "iter_decider");

    const jsonOf = (kwargs: readonly [string, PyValue][]): Record<string, unknown> =>
        Object.fromEntries(kwargs.map(([key, value]) => [key, value instanceof PyFloat ? value.value : value]));
    const tahConfig = {
        embedding_key: "model.embed_tokens",
        max_iter: o.maxIter,
        iter_decider: "Qwen3MLPIterDecider",
        input_updater: "Qwen3MLPUpdater",
        train_loss: "CombinedLoss",
        eval_loss: "NextTokenPredLoss",
        eval_iter_decider: "iter_decider",
        iter_label_generator: "DynamicIterLabelGenerator",
        iter_attention_mode: "duo",
        attn_implementation: "sdpa",
        iter_attention_impl: "triton",
        weighted_hidden_method: "stop_prob_mix",
        memory_lean_fp32_reductions: true,
        iter_decider_kwargs: jsonOf(deciderKwargs),
        input_updater_kwargs: jsonOf(updaterKwargs),
        train_loss_kwargs: {
            losses: [
                { name: "NextTokenPredLoss", weight: 1.0, kwargs: { use_target_gather_mix: true } },
                { name: "IterDeciderLoss", weight: 0.05, kwargs: { dyn_pos_weight: true, cost_sensitive: true } },
            ],
        },
        eval_loss_kwargs: {},
        eval_iter_decider_kwargs: {},
        iter_label_generator_kwargs: { abs_improv_coverage: 0.99 },
    };
    await writeFile(path.join(dir, "tah_config.json"), JSON.stringify(tahConfig, null, 2));
    return { ...fixture, dir };
}
