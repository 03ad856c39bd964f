/** A PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) as peft 0.15 saves it. */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { loraTargets, type LoraTarget, type LoraWeights } from "../reference/tahModel.js";
import { writeSafetensors, type SafetensorsTensorSpec } from "./safetensorsWriter.js";

export const peftModuleNames: Readonly<Record<LoraTarget, string>> = {
    wq: "self_attn.q_proj", wk: "self_attn.k_proj", wv: "self_attn.v_proj", wo: "self_attn.o_proj",
    wGate: "mlp.gate_proj", wUp: "mlp.up_proj", wDown: "mlp.down_proj",
};

export interface PeftAdapterOptions {
    readonly dtype?: "F32" | "F16" | "BF16";
    /** Keep the adapter name in tensor names (`lora_A.default.weight`), as older peft versions did. */
    readonly adapterSegment?: boolean;
    /** Merged over the generated adapter_config.json. */
    readonly config?: Record<string, unknown>;
}

/** The adapter's tensors under PEFT's names, torch shapes (lora_A [r, in], lora_B [out, r]). */
export function peftTensors(lora: LoraWeights, options: PeftAdapterOptions = {}): SafetensorsTensorSpec[] {
    const dtype = options.dtype ?? "F32";
    const segment = options.adapterSegment ? ".default" : "";
    const tensors: SafetensorsTensorSpec[] = [];
    lora.layers.forEach((pairs, i) => {
        for (const target of loraTargets) {
            const base = `base_model.model.model.layers.${i}.${peftModuleNames[target]}`;
            const { a, b } = pairs[target];
            tensors.push(
                { name: `${base}.lora_A${segment}.weight`, dtype, shape: [lora.rank, a.length / lora.rank], data: a },
                { name: `${base}.lora_B${segment}.weight`, dtype, shape: [b.length / lora.rank, lora.rank], data: b },
            );
        }
    });
    return tensors;
}

export async function writePeftAdapter(dir: string, lora: LoraWeights, options: PeftAdapterOptions = {}): Promise<void> {
    await mkdir(dir, { recursive: true });
    const config = {
        alpha_pattern: {}, auto_mapping: null, base_model_name_or_path: "Qwen/Qwen3-1.7B-Base", bias: "none",
        corda_config: null, eva_config: null, exclude_modules: null, fan_in_fan_out: false, inference_mode: true,
        init_lora_weights: true, layer_replication: null, layers_pattern: null, layers_to_transform: null,
        loftq_config: {}, lora_alpha: lora.alpha, lora_bias: false, lora_dropout: 0.1, megatron_config: null,
        megatron_core: "megatron.core", modules_to_save: null, peft_type: "LORA", r: lora.rank, rank_pattern: {},
        revision: null, target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        task_type: "CAUSAL_LM", trainable_token_indices: null, use_dora: false, use_rslora: false,
        ...options.config,
    };
    await writeFile(path.join(dir, "adapter_config.json"), JSON.stringify(config, null, 2));
    await writeSafetensors(path.join(dir, "adapter_model.safetensors"), peftTensors(lora, options));
}
