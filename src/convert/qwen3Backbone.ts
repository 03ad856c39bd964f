/**
 * The Qwen3 backbone: config.json → `qwen3.*` GGUF metadata, and Hugging Face tensor names → llama.cpp's, as
 * llama.cpp's convert_hf_to_gguf.py maps them. Every tensor is checked against the config before anything is written.
 */
import path from "node:path";
import { z } from "zod";
import { gguf, type GgufMetadataValue } from "../gguf/ggufTypes.js";
import { EngineError } from "../engine/protocol/EngineError.js";
import { specialIdsSchema, type SpecialIds } from "./hfTokenizer.js";
import { readJsonFile } from "./jsonFile.js";
import type { SafetensorsTensor } from "./safetensors.js";

/** A positive integer of at most `max`: checked before any size read from the file sizes an array or a loop. */
const count = (max: number) => z.number().int().positive().max(max);

/**
 * Bounds far above any released model (Qwen3-235B: hidden 4096, 94 layers, vocabulary 151,936) and far below what
 * would exhaust memory before the tensors' shapes are compared with the config.
 */
const configSchema = specialIdsSchema.extend({
    model_type: z.string().max(64),
    hidden_size: count(65_536),
    intermediate_size: count(1 << 20),
    num_hidden_layers: count(1024),
    num_attention_heads: count(1024),
    num_key_value_heads: count(1024).optional(),
    head_dim: count(4096).optional(),
    max_position_embeddings: count(1 << 24),
    rms_norm_eps: z.number().positive().max(1),
    rope_theta: z.number().positive().max(1e12),
    vocab_size: count(1 << 21),
    // Qwen3Config's default; the released configs set it explicitly.
    tie_word_embeddings: z.boolean().default(false),
    hidden_act: z.string().default("silu"),
    attention_bias: z.boolean().default(false),
    rope_scaling: z.unknown().optional(),
    use_sliding_window: z.boolean().default(false),
});

export interface Qwen3Config {
    readonly nLayer: number;
    readonly nEmbd: number;
    readonly nFf: number;
    readonly nHead: number;
    readonly nHeadKv: number;
    readonly headDim: number;
    readonly contextLength: number;
    readonly rmsEps: number;
    readonly ropeFreqBase: number;
    readonly vocabSize: number;
    readonly tiedEmbeddings: boolean;
    /** bos/eos/pad ids as config.json gives them (the tokenizer's last resort). */
    readonly specialIds: SpecialIds;
}

export async function readQwen3Config(dir: string): Promise<Qwen3Config> {
    const file = path.join(dir, "config.json");
    const c = await readJsonFile(file, configSchema);
    const refuse: (problem: string) => never = (problem) => {
        throw new EngineError("modelFile", `${file}: ${problem}`);
    };
    if (c.model_type !== "qwen3")
        refuse(`model_type is "${c.model_type}"; TaH checkpoints have a Qwen3 backbone ("qwen3")`);
    if (c.hidden_act !== "silu")
        refuse(`hidden_act "${c.hidden_act}" is not Qwen3's silu`);
    if (c.attention_bias)
        refuse("attention_bias is true; Qwen3 (and llama.cpp's qwen3) has no attention biases");
    if (c.rope_scaling !== undefined && c.rope_scaling !== null)
        refuse("rope_scaling is set; the converter supports plain RoPE only");
    if (c.use_sliding_window)
        refuse("use_sliding_window is true; TaH's Qwen3 backbones attend to the full context");
    if (c.head_dim === undefined && c.hidden_size % c.num_attention_heads !== 0)
        refuse(`hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}, and head_dim is not given`);
    const nHeadKv = c.num_key_value_heads ?? c.num_attention_heads;
    if (c.num_attention_heads % nHeadKv !== 0)
        refuse(`num_attention_heads ${c.num_attention_heads} is not a multiple of num_key_value_heads ${nHeadKv}`);
    return {
        nLayer: c.num_hidden_layers,
        nEmbd: c.hidden_size,
        nFf: c.intermediate_size,
        nHead: c.num_attention_heads,
        nHeadKv,
        headDim: c.head_dim ?? c.hidden_size / c.num_attention_heads,
        contextLength: c.max_position_embeddings,
        rmsEps: c.rms_norm_eps,
        ropeFreqBase: c.rope_theta,
        vocabSize: c.vocab_size,
        tiedEmbeddings: c.tie_word_embeddings,
        specialIds: { bos_token_id: c.bos_token_id, eos_token_id: c.eos_token_id, pad_token_id: c.pad_token_id },
    };
}

/** One backbone tensor to write: llama.cpp's name, GGUF dims (ne0 first) and where the bytes are. */
export interface BackboneTensor {
    readonly name: string;
    readonly dims: readonly number[];
    readonly source: SafetensorsTensor;
    /** Matrices take the output type; vectors (norms) always stay F32. */
    readonly matrix: boolean;
}

/** The tensors of one layer: HF suffix, llama.cpp suffix, torch shape. */
function layerTensors(c: Qwen3Config): [string, string, number[]][] {
    const qDim = c.nHead * c.headDim;
    const kvDim = c.nHeadKv * c.headDim;
    return [
        ["input_layernorm.weight", "attn_norm.weight", [c.nEmbd]],
        ["self_attn.q_proj.weight", "attn_q.weight", [qDim, c.nEmbd]],
        ["self_attn.k_proj.weight", "attn_k.weight", [kvDim, c.nEmbd]],
        ["self_attn.v_proj.weight", "attn_v.weight", [kvDim, c.nEmbd]],
        ["self_attn.o_proj.weight", "attn_output.weight", [c.nEmbd, qDim]],
        ["self_attn.q_norm.weight", "attn_q_norm.weight", [c.headDim]],
        ["self_attn.k_norm.weight", "attn_k_norm.weight", [c.headDim]],
        ["post_attention_layernorm.weight", "ffn_norm.weight", [c.nEmbd]],
        ["mlp.gate_proj.weight", "ffn_gate.weight", [c.nFf, c.nEmbd]],
        ["mlp.up_proj.weight", "ffn_up.weight", [c.nFf, c.nEmbd]],
        ["mlp.down_proj.weight", "ffn_down.weight", [c.nEmbd, c.nFf]],
    ];
}

/**
 * Maps and checks the checkpoint's tensors. Throws for a missing tensor, a shape that disagrees with config.json,
 * or a tensor a Qwen3 model does not have. `lm_head.weight` of a tied model is skipped (it equals the embedding).
 */
export function planBackbone(c: Qwen3Config, tensors: ReadonlyMap<string, SafetensorsTensor>, where: string): BackboneTensor[] {
    const wanted: [string, string, number[]][] = [
        ["model.embed_tokens.weight", "token_embd.weight", [c.vocabSize, c.nEmbd]],
        ["model.norm.weight", "output_norm.weight", [c.nEmbd]],
    ];
    if (!c.tiedEmbeddings)
        wanted.push(["lm_head.weight", "output.weight", [c.vocabSize, c.nEmbd]]);
    for (let i = 0; i < c.nLayer; i++)
        wanted.push(...layerTensors(c).map(([hf, llama, shape]): [string, string, number[]] => [`model.layers.${i}.${hf}`, `blk.${i}.${llama}`, shape]));

    const planned: BackboneTensor[] = [];
    for (const [hfName, name, shape] of wanted) {
        const source = tensors.get(hfName);
        if (source === undefined)
            throw new EngineError("modelFile", `${where}: tensor "${hfName}" is missing`);
        if (source.shape.length !== shape.length || source.shape.some((dim, i) => dim !== shape[i]))
            throw new EngineError("modelFile", `${source.file}: tensor "${hfName}" has shape [${source.shape.join(", ")}], config.json implies [${shape.join(", ")}]`);
        planned.push({ name, dims: [...shape].reverse(), source, matrix: shape.length > 1 });
    }
    const known = new Set(wanted.map(([hfName]) => hfName));
    for (const [hfName, source] of tensors) {
        const harmless = hfName.endsWith(".rotary_emb.inv_freq") || (c.tiedEmbeddings && hfName === "lm_head.weight");
        if (!known.has(hfName) && !harmless)
            throw new EngineError("modelFile", `${source.file}: unexpected tensor "${hfName}" (not part of a Qwen3 model with this config.json; LoRA weights belong in lora/)`);
    }
    return planned;
}

export function backboneMetadata(c: Qwen3Config, name: string, fileType: number): Record<string, GgufMetadataValue> {
    return {
        "general.architecture": gguf.string("qwen3"),
        "general.name": gguf.string(name),
        "general.file_type": gguf.uint32(fileType),
        "general.quantization_version": gguf.uint32(2),
        "qwen3.context_length": gguf.uint32(c.contextLength),
        "qwen3.embedding_length": gguf.uint32(c.nEmbd),
        "qwen3.block_count": gguf.uint32(c.nLayer),
        "qwen3.feed_forward_length": gguf.uint32(c.nFf),
        "qwen3.attention.head_count": gguf.uint32(c.nHead),
        "qwen3.attention.head_count_kv": gguf.uint32(c.nHeadKv),
        "qwen3.attention.key_length": gguf.uint32(c.headDim),
        "qwen3.attention.value_length": gguf.uint32(c.headDim),
        "qwen3.attention.layer_norm_rms_epsilon": gguf.float32(c.rmsEps),
        "qwen3.rope.freq_base": gguf.float32(c.ropeFreqBase),
    };
}
