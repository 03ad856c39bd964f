/**
 * Reads a TaH2 checkpoint as upstream writes it (tah2-inference.md §1) into the reference's weights, through the
 * project's own format readers (safetensors, and the restricted torch.load) — so the reference runs from the files a
 * converter will see. The interpretation is the reference's own, from the specification: it shares no code with the
 * converter beyond reading the bytes, and refuses what the reference cannot compute exactly.
 */
import path from "node:path";
import { z } from "zod";
import { decodeFloats } from "../../../src/convert/floatData.js";
import { readJsonFile } from "../../../src/convert/jsonFile.js";
import { PickleDict, describePickleValue } from "../../../src/convert/restrictedUnpickler.js";
import { readSafetensorsCheckpoint, tensorChunks, type SafetensorsTensor } from "../../../src/convert/safetensors.js";
import { loadTorchFile } from "../../../src/convert/torchLoad.js";
import { TorchTensor } from "../../../src/convert/torchPickleGlobals.js";
import { bfloat16BitsToFloat32, float32ToBfloat16Bits } from "../../../src/gguf/floatEncoding.js";
import type { Qwen3LayerWeights, Qwen3Weights } from "../tahModel.js";
import type { SwiGluWeights, Tah2DeciderWeights, Tah2Model, UpdaterWeights } from "./tah2Model.js";

const positiveInt = z.number().int().positive();

const configSchema = z.object({
    model_type: z.literal("qwen3"),
    hidden_size: positiveInt,
    intermediate_size: positiveInt,
    num_hidden_layers: positiveInt,
    num_attention_heads: positiveInt,
    num_key_value_heads: positiveInt,
    head_dim: positiveInt,
    rms_norm_eps: z.number().positive(),
    rope_theta: z.number().positive(),
    vocab_size: positiveInt,
    tie_word_embeddings: z.boolean(),
    rope_scaling: z.null().optional(),
});

const smallNetKwargs = z.object({
    hidden_size: positiveInt,
    intermediate_size: positiveInt,
    rms_norm_eps: z.number().positive().optional(),
});

const tahConfigSchema = z.object({
    max_iter: z.number().int().min(2),
    input_updater: z.literal("Qwen3MLPUpdater"),
    iter_decider: z.literal("Qwen3MLPIterDecider"),
    iter_attention_mode: z.literal("duo"),
    weighted_hidden_method: z.literal("stop_prob_mix"),
    input_updater_kwargs: smallNetKwargs.extend({
        enable_norm_pre_mlp: z.literal(true).optional(),
        enable_norm_out: z.literal(true).optional(),
    }),
    iter_decider_kwargs: smallNetKwargs.extend({
        topk: positiveInt,
        threshold: z.number().optional(),
    }),
});

/** Upstream's RMSNorm epsilon in both small networks when their kwargs do not set one. */
const defaultSmallNetEps = 1e-6;

function bfloat16(value: number): number {
    return bfloat16BitsToFloat32(float32ToBfloat16Bits(value));
}

async function tensorValues(tensor: SafetensorsTensor): Promise<Float32Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of tensorChunks(tensor))
        chunks.push(chunk);
    return decodeFloats(Buffer.concat(chunks), tensor.dtype);
}

function sameShape(actual: readonly number[], expected: readonly number[]): boolean {
    return actual.length === expected.length && actual.every((dim, i) => dim === expected[i]);
}

async function readBackbone(dir: string, c: z.infer<typeof configSchema>): Promise<Qwen3Weights> {
    const tensors = await readSafetensorsCheckpoint(dir);
    const read = async (name: string, shape: readonly number[]): Promise<Float32Array> => {
        const tensor = tensors.get(name);
        if (tensor === undefined)
            throw new Error(`${dir}: the backbone has no tensor ${name}`);
        if (!sameShape(tensor.shape, shape))
            throw new Error(`${dir}: ${name} has shape [${tensor.shape.join(", ")}], config.json implies [${shape.join(", ")}]`);
        return tensorValues(tensor);
    };
    const h = c.hidden_size;
    const qDim = c.num_attention_heads * c.head_dim;
    const kvDim = c.num_key_value_heads * c.head_dim;
    const layers: Qwen3LayerWeights[] = [];
    for (let i = 0; i < c.num_hidden_layers; i++) {
        const p = `model.layers.${i}`;
        layers.push({
            attnNorm: await read(`${p}.input_layernorm.weight`, [h]),
            wq: await read(`${p}.self_attn.q_proj.weight`, [qDim, h]),
            wk: await read(`${p}.self_attn.k_proj.weight`, [kvDim, h]),
            wv: await read(`${p}.self_attn.v_proj.weight`, [kvDim, h]),
            wo: await read(`${p}.self_attn.o_proj.weight`, [h, qDim]),
            qNorm: await read(`${p}.self_attn.q_norm.weight`, [c.head_dim]),
            kNorm: await read(`${p}.self_attn.k_norm.weight`, [c.head_dim]),
            ffnNorm: await read(`${p}.post_attention_layernorm.weight`, [h]),
            wGate: await read(`${p}.mlp.gate_proj.weight`, [c.intermediate_size, h]),
            wUp: await read(`${p}.mlp.up_proj.weight`, [c.intermediate_size, h]),
            wDown: await read(`${p}.mlp.down_proj.weight`, [h, c.intermediate_size]),
        });
    }
    return {
        config: {
            nLayer: c.num_hidden_layers, nEmbd: h, nHead: c.num_attention_heads, nHeadKv: c.num_key_value_heads, headDim: c.head_dim,
            nFf: c.intermediate_size, nVocab: c.vocab_size, ropeFreqBase: c.rope_theta, rmsEps: c.rms_norm_eps,
        },
        tokenEmbd: await read("model.embed_tokens.weight", [c.vocab_size, h]),
        outputNorm: await read("model.norm.weight", [h]),
        // A tied head is the embedding: save_model_tp drops lm_head.weight then.
        output: c.tie_word_embeddings ? null : await read("lm_head.weight", [c.vocab_size, h]),
        layers,
    };
}

/** A component file's {"class", "state_dict", "init_args"}: its state dict's tensors by name, read as float32. */
async function readComponent(file: string, className: string): Promise<{ readonly tensor: (name: string, shape: readonly number[]) => Float32Array; readonly has: (name: string) => boolean }> {
    // generated test checkpoints are small: a bound far above them, only to satisfy the reader's contract
    const torchFile = await loadTorchFile(file, 256 * 1024 * 1024);
    const root = torchFile.root;
    if (!(root instanceof PickleDict))
        throw new Error(`${file} holds ${describePickleValue(root)}, not a {"class", "state_dict", "init_args"} dict`);
    if (root.get("class") !== className)
        throw new Error(`${file}: class is ${describePickleValue(root.get("class"))}, expected "${className}"`);
    const stateDict = root.get("state_dict");
    if (!(stateDict instanceof PickleDict))
        throw new Error(`${file}: state_dict is ${describePickleValue(stateDict)}, not a dict of tensors`);
    return {
        has: (name) => stateDict.get(name) instanceof TorchTensor,
        tensor: (name, shape) => {
            const value = stateDict.get(name);
            if (!(value instanceof TorchTensor))
                throw new Error(`${file}: state_dict.${name} is ${describePickleValue(value)}, not a tensor`);
            if (!sameShape(value.shape, shape))
                throw new Error(`${file}: state_dict.${name} has shape [${value.shape.join(", ")}], expected [${shape.join(", ")}]`);
            return torchFile.values(value, `state_dict.${name}`);
        },
    };
}

export async function loadTah2Checkpoint(dir: string): Promise<Tah2Model> {
    const c = await readJsonFile(path.join(dir, "config.json"), configSchema);
    const tah = await readJsonFile(path.join(dir, "tah_config.json"), tahConfigSchema);
    const h = c.hidden_size;
    for (const [name, kwargs] of [["input_updater_kwargs", tah.input_updater_kwargs], ["iter_decider_kwargs", tah.iter_decider_kwargs]] as const) {
        if (kwargs.hidden_size !== h)
            throw new Error(`${dir}: tah_config.json's ${name}.hidden_size ${kwargs.hidden_size} differs from config.json's hidden_size ${h}`);
    }
    // norm_l has hidden_size weights and input_proj takes 3·hidden_size inputs, so no other topk can run (§1.4).
    if (tah.iter_decider_kwargs.topk !== h)
        throw new Error(`${dir}: tah_config.json's iter_decider_kwargs.topk ${tah.iter_decider_kwargs.topk} is not hidden_size ${h}`);

    const backbone = await readBackbone(dir, c);
    const swiGlu = (tensor: (name: string, shape: readonly number[]) => Float32Array, width: number): SwiGluWeights => ({
        gate: tensor("mlp.gate_proj.weight", [width, h]), up: tensor("mlp.up_proj.weight", [width, h]), down: tensor("mlp.down_proj.weight", [h, width]), width,
    });

    // Like upstream's from_pretrained, the constructor arguments are tah_config.json's kwargs, not the pickled ones.
    const upd = await readComponent(path.join(dir, "input_updater.bin"), "Qwen3MLPUpdater");
    const updaterWidth = tah.input_updater_kwargs.intermediate_size;
    const updater: UpdaterWeights = {
        normPrev: upd.tensor("norm_prev.weight", [h]),
        normLast: upd.tensor("norm_last.weight", [h]),
        projection: upd.tensor("projection.weight", [h, 2 * h]),
        normPreMlp: upd.tensor("norm_pre_mlp.weight", [h]),
        mlp: swiGlu(upd.tensor, updaterWidth),
        normOut: upd.tensor("norm_out.weight", [h]),
        eps: tah.input_updater_kwargs.rms_norm_eps ?? defaultSmallNetEps,
    };

    const dec = await readComponent(path.join(dir, "iter_decider.bin"), "Qwen3MLPIterDecider");
    const kwargs = tah.iter_decider_kwargs;
    const decider: Tah2DeciderWeights = {
        normFirst: dec.tensor("norm_first.weight", [h]),
        normLast: dec.tensor("norm_last.weight", [h]),
        normL: dec.tensor("norm_l.weight", [h]),
        inputProj: dec.tensor("input_proj.weight", [h, 3 * h]),
        mlp: swiGlu(dec.tensor, kwargs.intermediate_size),
        normOut: dec.tensor("norm_out.weight", [h]),
        score: dec.tensor("score.weight", [1, h]),
        topK: kwargs.topk,
        eps: kwargs.rms_norm_eps ?? defaultSmallNetEps,
    };
    // A threshold in the kwargs becomes the bf16 buffer (the decider is cast to bf16) and the stored one is skipped;
    // without it, the stored buffer is loaded (§1.6).
    let threshold: number;
    if (kwargs.threshold !== undefined)
        threshold = bfloat16(kwargs.threshold);
    else if (dec.has("threshold"))
        threshold = dec.tensor("threshold", [])[0];
    else
        throw new Error(`${dir}: neither iter_decider_kwargs.threshold nor the decider's threshold buffer is there`);
    return { backbone, updater, decider, maxIter: tah.max_iter, threshold };
}
