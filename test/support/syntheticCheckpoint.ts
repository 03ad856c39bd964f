/**
 * Writes a tiny TaH model (createTinyTah) as a TaH checkpoint in the layout of tah-inference.md §1.2: config.json,
 * generation_config.json, tokenizer files, model.safetensors (or shards + index), lora/ (PEFT), iter_decider.bin
 * (torch.save format) and tah_config.json. Returns the weights exactly as stored (rounded to the chosen dtypes,
 * the vocabulary padded) for the reference to compute with.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { decodeBfloat16, decodeFloat16, encodeBfloat16, encodeFloat16 } from "../../src/gguf/floatEncoding.js";
import type { DeciderWeights, LayerNormWeights, LinearWeights, LoraPair, LoraTarget, Qwen3Weights, TahModel } from "../reference/tahModel.js";
import { writeTokenizerFiles } from "./hfTokenizerWriter.js";
import { writePeftAdapter } from "./peftAdapterWriter.js";
import { PyDict, PyFloat, PyGlobal, type PyValue } from "./pickleWriter.js";
import { prngFor } from "./prng.js";
import { writeSafetensors, writeShardedSafetensors, type SafetensorsTensorSpec } from "./safetensorsWriter.js";
import type { TinyTah } from "./tinyTah.js";
import { TorchSave } from "./torchSaveWriter.js";

export type StoredDtype = "F32" | "F16" | "BF16";
export type TorchFloatDtype = "float32" | "bfloat16" | "float16";

export interface SyntheticCheckpointOptions {
    /** 1: model.safetensors; more: model-0000i-of-0000n.safetensors + index. */
    readonly shards?: number;
    /** Every backbone tensor (norms included) in this dtype. */
    readonly backboneDtype?: StoredDtype;
    readonly loraDtype?: StoredDtype;
    readonly deciderDtype?: TorchFloatDtype;
    /** tah_config.json's iter_decider_kwargs.threshold (default: the tiny model's). */
    readonly threshold?: number;
    /** iter_decider_kwargs.dtype, to which the reference rounds the threshold. */
    readonly thresholdDtype?: TorchFloatDtype;
    /** The value of the learned `threshold` parameter in the state dict (ignored by the reference's loader). */
    readonly learnedThreshold?: number;
    /** Extra embedding rows beyond the tokenizer's tokens (config.json's vocab_size is larger, as in Qwen3). */
    readonly vocabPadding?: number;
    readonly mergesAsPairs?: boolean;
    readonly templateFile?: boolean;
    readonly adapterSegment?: boolean;
    /** The zip folder of iter_decider.bin: "archive" (torch.save to a stream) or the file's stem. */
    readonly torchPrefix?: string;
    /** Changes the backbone's tensors before they are written (bad-input tests). */
    readonly editBackbone?: (tensors: SafetensorsTensorSpec[]) => SafetensorsTensorSpec[];
}

export interface SyntheticCheckpoint {
    readonly dir: string;
    /** The weights as the checkpoint stores them; threshold as the reference's loader sees it. */
    readonly expected: TahModel;
}

const torchToStored: Readonly<Record<TorchFloatDtype, StoredDtype>> = { float32: "F32", bfloat16: "BF16", float16: "F16" };

/** Values rounded the way storing them as `dtype` does. */
export function storedAs(dtype: StoredDtype, values: Float32Array): Float32Array {
    if (dtype === "F16")
        return decodeFloat16(new Uint8Array(encodeFloat16(values).buffer));
    if (dtype === "BF16")
        return decodeBfloat16(new Uint8Array(encodeBfloat16(values).buffer));
    return values;
}

function roundLinear(dtype: StoredDtype, linear: LinearWeights): LinearWeights {
    return { weight: storedAs(dtype, linear.weight), bias: storedAs(dtype, linear.bias) };
}

function roundNorm(dtype: StoredDtype, norm: LayerNormWeights): LayerNormWeights {
    return { weight: storedAs(dtype, norm.weight), bias: storedAs(dtype, norm.bias) };
}

function roundDecider(dtype: StoredDtype, d: DeciderWeights): DeciderWeights {
    return {
        ...d,
        logitsProjection: roundLinear(dtype, d.logitsProjection),
        combinedProjection: roundLinear(dtype, d.combinedProjection),
        inputProjection: roundLinear(dtype, d.inputProjection),
        blocks: d.blocks.map((block) => ({ layerNorm: roundNorm(dtype, block.layerNorm), up: roundLinear(dtype, block.up), down: roundLinear(dtype, block.down) })),
        outputNorm: roundNorm(dtype, d.outputNorm),
        output: roundLinear(dtype, d.output),
    };
}

/** `matrix` ([rows, width]) with `extra` rows of small random values appended. */
function padRows(matrix: Float32Array, width: number, extra: number, label: string): Float32Array {
    const out = new Float32Array(matrix.length + extra * width);
    out.set(matrix);
    out.set(prngFor(99, label).normals(extra * width, 0.1), matrix.length);
    return out;
}

/** The reference model the converted checkpoint must match. */
function expectedModel(tiny: TinyTah, o: Required<Pick<SyntheticCheckpointOptions, "backboneDtype" | "loraDtype" | "deciderDtype" | "vocabPadding">>, threshold: number): TahModel {
    const m = tiny.model;
    const b = (values: Float32Array): Float32Array => storedAs(o.backboneDtype, values);
    const nEmbd = m.config.nEmbd;
    const pad = (matrix: Float32Array, label: string): Float32Array => (o.vocabPadding > 0 ? padRows(matrix, nEmbd, o.vocabPadding, label) : matrix);
    return {
        ...m,
        config: { ...m.config, nVocab: m.config.nVocab + o.vocabPadding },
        tokenEmbd: b(pad(m.tokenEmbd, "token_embd padding")),
        outputNorm: b(m.outputNorm),
        output: m.output === null ? null : b(pad(m.output, "output padding")),
        layers: m.layers.map((layer) => ({
            attnNorm: b(layer.attnNorm), wq: b(layer.wq), wk: b(layer.wk), wv: b(layer.wv), wo: b(layer.wo),
            qNorm: b(layer.qNorm), kNorm: b(layer.kNorm), ffnNorm: b(layer.ffnNorm),
            wGate: b(layer.wGate), wUp: b(layer.wUp), wDown: b(layer.wDown),
        })),
        lora: {
            ...m.lora,
            layers: m.lora.layers.map((pairs) => Object.fromEntries(Object.entries(pairs).map(([target, pair]: [string, LoraPair]) =>
                [target, { a: storedAs(o.loraDtype, pair.a), b: storedAs(o.loraDtype, pair.b) }])) as Record<LoraTarget, LoraPair>),
        },
        decider: roundDecider(torchToStored[o.deciderDtype], m.decider),
        threshold,
    };
}

/** The backbone under Hugging Face's Qwen3 names, torch shapes; lm_head.weight only when untied (save_model_tp drops a tied one). */
export function backboneTensors(model: Qwen3Weights, dtype: StoredDtype): SafetensorsTensorSpec[] {
    const { nEmbd, nVocab, nHead, nHeadKv, headDim, nFf } = model.config;
    const qDim = nHead * headDim;
    const kvDim = nHeadKv * headDim;
    const t = (name: string, shape: number[], data: Float32Array): SafetensorsTensorSpec => ({ name, dtype, shape, data });
    const tensors = [t("model.embed_tokens.weight", [nVocab, nEmbd], model.tokenEmbd)];
    model.layers.forEach((layer, i) => {
        const p = `model.layers.${i}`;
        tensors.push(
            t(`${p}.input_layernorm.weight`, [nEmbd], layer.attnNorm),
            t(`${p}.mlp.down_proj.weight`, [nEmbd, nFf], layer.wDown),
            t(`${p}.mlp.gate_proj.weight`, [nFf, nEmbd], layer.wGate),
            t(`${p}.mlp.up_proj.weight`, [nFf, nEmbd], layer.wUp),
            t(`${p}.post_attention_layernorm.weight`, [nEmbd], layer.ffnNorm),
            t(`${p}.self_attn.k_norm.weight`, [headDim], layer.kNorm),
            t(`${p}.self_attn.k_proj.weight`, [kvDim, nEmbd], layer.wk),
            t(`${p}.self_attn.o_proj.weight`, [nEmbd, qDim], layer.wo),
            t(`${p}.self_attn.q_norm.weight`, [headDim], layer.qNorm),
            t(`${p}.self_attn.q_proj.weight`, [qDim, nEmbd], layer.wq),
            t(`${p}.self_attn.v_proj.weight`, [kvDim, nEmbd], layer.wv),
        );
    });
    tensors.push(t("model.norm.weight", [nEmbd], model.outputNorm));
    if (model.output !== null)
        tensors.push(t("lm_head.weight", [nVocab, nEmbd], model.output));
    return tensors;
}

/** MLPIterDecider's constructor arguments, as tah_config.json and init_args hold them. */
function deciderKwargs(tiny: TinyTah, threshold: number): [string, PyValue][] {
    const o = tiny.options;
    return [
        ["topk", o.logitTopK], ["hidden_states_size", o.nEmbd], ["hidden_states_layer_nums", [...o.taps]],
        ["hidden_dims", new Array<number>(o.deciderBlocks).fill(o.deciderWidth)], ["expansion_factor", 4],
        ["dropout_rate", new PyFloat(0.1)], ["normalize_input", false], ["threshold", new PyFloat(threshold)], ["max_iter", o.maxIter],
    ];
}

/** iter_decider.bin's pickled dict: {"class", "state_dict", "init_args"}, as TaH's save_iter_decider writes it. */
function deciderFile(tiny: TinyTah, d: DeciderWeights, save: TorchSave, dtype: TorchFloatDtype, threshold: number, thresholdDtype: TorchFloatDtype, learnedThreshold: number): PyDict {
    const entries: [string, PyValue][] = [["threshold", save.tensor(dtype, [], Float32Array.of(learnedThreshold))]];
    const linear = (name: string, weights: LinearWeights): void => {
        const out = weights.bias.length;
        entries.push([`${name}.weight`, save.tensor(dtype, [out, weights.weight.length / out], weights.weight)], [`${name}.bias`, save.tensor(dtype, [out], weights.bias)]);
    };
    const norm = (name: string, weights: LayerNormWeights): void => {
        entries.push([`${name}.weight`, save.tensor(dtype, [weights.weight.length], weights.weight)], [`${name}.bias`, save.tensor(dtype, [weights.bias.length], weights.bias)]);
    };
    linear("logits_projection", d.logitsProjection);
    linear("combined_projection", d.combinedProjection);
    linear("backbone.input_projection", d.inputProjection);
    d.blocks.forEach((block, i) => {
        norm(`backbone.blocks.${i}.layer_norm`, block.layerNorm);
        linear(`backbone.blocks.${i}.mlp.0`, block.up);
        linear(`backbone.blocks.${i}.mlp.3`, block.down);
    });
    norm("backbone.output_layer.0", d.outputNorm);
    linear("backbone.output_layer.1", d.output);
    return new PyDict([
        ["class", "MLPIterDecider"],
        ["state_dict", new PyDict(entries)],
        ["init_args", new PyDict([...deciderKwargs(tiny, threshold), ["dtype", new PyGlobal("torch", thresholdDtype)]])],
    ]);
}

/** tah_config.json's value for a Python value of the kwargs (PyFloat unwrapped). */
function jsonOf(value: PyValue): unknown {
    return value instanceof PyFloat ? value.value : value;
}

export async function writeSyntheticCheckpoint(dir: string, tiny: TinyTah, options: SyntheticCheckpointOptions = {}): Promise<SyntheticCheckpoint> {
    const o = {
        shards: 1, backboneDtype: "F32" as StoredDtype, loraDtype: "F32" as StoredDtype, deciderDtype: "float32" as TorchFloatDtype,
        threshold: tiny.model.threshold, thresholdDtype: "bfloat16" as TorchFloatDtype, learnedThreshold: 0.7, vocabPadding: 0,
        torchPrefix: "archive", ...options,
    };
    const thresholdAsLoaded = storedAs(torchToStored[o.thresholdDtype], Float32Array.of(o.threshold))[0];
    const expected = expectedModel(tiny, o, thresholdAsLoaded);
    const v = tiny.vocabulary;
    await mkdir(dir, { recursive: true });
    const opts = tiny.options;

    const config = {
        architectures: ["Qwen3ForCausalLM"], attention_bias: false, attention_dropout: 0, bos_token_id: v.special["<|endoftext|>"],
        eos_token_id: v.special["<|im_end|>"], head_dim: opts.headDim, hidden_act: "silu", hidden_size: opts.nEmbd,
        initializer_range: 0.02, intermediate_size: opts.nFf, max_position_embeddings: opts.contextLength, max_window_layers: opts.nLayer,
        model_type: "qwen3", num_attention_heads: opts.nHead, num_hidden_layers: opts.nLayer, num_key_value_heads: opts.nHeadKv,
        rms_norm_eps: opts.rmsEps, rope_scaling: null, rope_theta: opts.ropeFreqBase, sliding_window: null,
        tie_word_embeddings: opts.tiedEmbeddings, torch_dtype: "bfloat16", transformers_version: "4.52.4", use_cache: true,
        use_sliding_window: false, vocab_size: expected.config.nVocab,
    };
    await writeFile(path.join(dir, "config.json"), JSON.stringify(config, null, 2));
    const generation = {
        bos_token_id: v.special["<|endoftext|>"], eos_token_id: [v.special["<|im_end|>"], v.special["<|endoftext|>"]],
        pad_token_id: v.special["<|endoftext|>"], transformers_version: "4.52.4",
    };
    await writeFile(path.join(dir, "generation_config.json"), JSON.stringify(generation, null, 2));
    await writeTokenizerFiles(dir, { mergesAsPairs: o.mergesAsPairs ?? false, templateFile: o.templateFile ?? false });

    // The stored values are `expected`'s: rounding them again to the same dtype changes nothing.
    let backbone = backboneTensors(expected, o.backboneDtype);
    backbone = o.editBackbone?.(backbone) ?? backbone;
    if (o.shards > 1)
        await writeShardedSafetensors(dir, backbone, o.shards);
    else
        await writeSafetensors(path.join(dir, "model.safetensors"), backbone);

    await writePeftAdapter(path.join(dir, "lora"), expected.lora, { dtype: o.loraDtype, adapterSegment: o.adapterSegment ?? false });

    const save = new TorchSave();
    await save.write(path.join(dir, "iter_decider.bin"), deciderFile(tiny, expected.decider, save, o.deciderDtype, o.threshold, o.thresholdDtype, o.learnedThreshold), o.torchPrefix);

    const tahConfig = {
        embedding_key: "model.embed_tokens",
        max_iter: opts.maxIter,
        iter_decider: "MLPIterDecider",
        iter_decider_kwargs: {
            ...Object.fromEntries(deciderKwargs(tiny, o.threshold).map(([key, value]) => [key, jsonOf(value)])),
            dtype: { __dtype__: true, __str__: `torch.${o.thresholdDtype}` },
        },
        eval_iter_decider: "iter_decider",
        eval_iter_decider_kwargs: {},
        input_updater_kwargs: { topk: opts.softEmbeddingTopK },
        adapter: "lora",
        adapter_kwargs: { r: opts.loraRank, lora_alpha: opts.loraAlpha, lora_dropout: 0.1, target_modules: "all-linear", bias: "none", base_grad: true },
        train_loss: "IterDeciderLoss",
        train_loss_kwargs: {},
        eval_loss: null,
        eval_loss_kwargs: {},
    };
    await writeFile(path.join(dir, "tah_config.json"), JSON.stringify(tahConfig, null, 2));
    return { dir, expected };
}
