/**
 * The depth-1 LoRA: a PEFT adapter (lora/adapter_config.json + lora/adapter_model.safetensors) → llama.cpp's LoRA
 * adapter GGUF (docs/model-format.md). Only plain LoRA on Qwen3's seven linear projections is accepted: llama.cpp
 * applies W x + (alpha / r) · B A x, which rsLoRA, DoRA, per-module alphas, LoRA biases or other targets would break.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { gguf, type GgufMetadataValue } from "../gguf/ggufTypes.js";
import { EngineError } from "../engine/protocol/EngineError.js";
import { readJsonFile } from "./jsonFile.js";
import type { Qwen3Config } from "./qwen3Backbone.js";
import { readSafetensorsHeader, type SafetensorsTensor } from "./safetensors.js";

const projections = {
    q_proj: { module: "self_attn", llama: "attn_q" },
    k_proj: { module: "self_attn", llama: "attn_k" },
    v_proj: { module: "self_attn", llama: "attn_v" },
    o_proj: { module: "self_attn", llama: "attn_output" },
    gate_proj: { module: "mlp", llama: "ffn_gate" },
    up_proj: { module: "mlp", llama: "ffn_up" },
    down_proj: { module: "mlp", llama: "ffn_down" },
} as const;

type Projection = keyof typeof projections;

const adapterConfigSchema = z.object({
    peft_type: z.string().default("LORA"),
    r: z.number().int().positive(),
    lora_alpha: z.number().positive(),
    target_modules: z.union([z.string(), z.array(z.string())]).nullish(),
    use_rslora: z.boolean().default(false),
    use_dora: z.boolean().default(false),
    fan_in_fan_out: z.boolean().default(false),
    bias: z.string().default("none"),
    modules_to_save: z.array(z.string()).nullish(),
    rank_pattern: z.record(z.string(), z.unknown()).nullish(),
    alpha_pattern: z.record(z.string(), z.unknown()).nullish(),
});

export interface LoraTensor {
    /** `blk.{i}.{proj}.weight.lora_a` / `.lora_b` */
    readonly name: string;
    /** GGUF dims: lora_a [n_in, r], lora_b [r, n_out]. */
    readonly dims: readonly number[];
    readonly source: SafetensorsTensor;
}

export interface LoraPlan {
    readonly rank: number;
    readonly alpha: number;
    readonly tensors: readonly LoraTensor[];
}

// PEFT saves the default adapter without its name; a `.default` segment appears when saved with an explicit name.
const tensorName = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_(A|B)(?:\.default)?\.weight$/;

function inOut(c: Qwen3Config, projection: Projection): [number, number] {
    const qDim = c.nHead * c.headDim;
    const kvDim = c.nHeadKv * c.headDim;
    switch (projection) {
        case "q_proj": return [c.nEmbd, qDim];
        case "k_proj":
        case "v_proj": return [c.nEmbd, kvDim];
        case "o_proj": return [qDim, c.nEmbd];
        case "gate_proj":
        case "up_proj": return [c.nEmbd, c.nFf];
        case "down_proj": return [c.nFf, c.nEmbd];
    }
}

/** Reads and checks the adapter; throws before anything is written if it is not plain LoRA on this backbone. */
export async function planLora(checkpointDir: string, c: Qwen3Config): Promise<LoraPlan> {
    const dir = path.join(checkpointDir, "lora");
    const configFile = path.join(dir, "adapter_config.json");
    const weightsFile = path.join(dir, "adapter_model.safetensors");
    const config = await readJsonFile(configFile, adapterConfigSchema);
    const refuse: (problem: string) => never = (problem) => {
        throw new EngineError("modelFile", `${configFile}: ${problem}`);
    };
    if (config.peft_type !== "LORA")
        refuse(`peft_type is ${config.peft_type}; only LORA adapters are supported`);
    if (config.use_rslora)
        refuse("use_rslora is true; rsLoRA scales by alpha/sqrt(r), llama.cpp's adapters by alpha/r");
    if (config.use_dora)
        refuse("use_dora is true; DoRA adapters are not supported by llama.cpp");
    if (config.fan_in_fan_out)
        refuse("fan_in_fan_out is true (transposed Conv1D weights); Qwen3's projections are nn.Linear");
    if (config.bias !== "none")
        refuse(`bias is "${config.bias}"; LoRA biases are not supported`);
    if ((config.modules_to_save?.length ?? 0) > 0)
        refuse(`modules_to_save lists ${config.modules_to_save!.join(", ")}; fully trained extra modules are not supported`);
    if (Object.keys(config.rank_pattern ?? {}).length > 0 || Object.keys(config.alpha_pattern ?? {}).length > 0)
        refuse("rank_pattern / alpha_pattern give modules their own rank or alpha; one alpha/r for all is supported");
    // A string is "all-linear" or a regular expression; its reach shows in the tensor names, checked below.
    const targets = typeof config.target_modules === "string" ? [] : config.target_modules ?? [];
    const unsupported = targets.filter((target) => !(target in projections));
    if (unsupported.length > 0)
        refuse(`target_modules includes ${unsupported.join(", ")}; only Qwen3's linear projections (${Object.keys(projections).join(", ")}) are supported`);

    if (!existsSync(weightsFile) && existsSync(path.join(dir, "adapter_model.bin")))
        throw new EngineError("modelFile", `${path.join(dir, "adapter_model.bin")}: the adapter is a PyTorch pickle; the converter reads adapter_model.safetensors only`);
    const header = await readSafetensorsHeader(weightsFile);
    const pairs = new Map<string, { layer: number; projection: Projection; a?: SafetensorsTensor; b?: SafetensorsTensor }>();
    for (const [name, tensor] of header) {
        const match = tensorName.exec(name);
        const projection = match?.[3] as Projection | undefined;
        if (match === null || projection === undefined || !(projection in projections) || projections[projection].module !== match[2])
            throw new EngineError("modelFile", `${weightsFile}: unsupported LoRA tensor "${name}" (only lora_A/lora_B of Qwen3's linear projections are supported)`);
        const layer = Number(match[1]);
        if (layer >= c.nLayer)
            throw new EngineError("modelFile", `${weightsFile}: tensor "${name}" is for layer ${layer}, the backbone has ${c.nLayer}`);
        const key = `${layer}.${projection}`;
        const pair = pairs.get(key) ?? { layer, projection };
        pair[match[4] === "A" ? "a" : "b"] = tensor;
        pairs.set(key, pair);
    }
    if (pairs.size === 0)
        throw new EngineError("modelFile", `${weightsFile} holds no LoRA tensors`);

    const tensors: LoraTensor[] = [];
    const ordered = [...pairs.values()].sort((x, y) => x.layer - y.layer || Object.keys(projections).indexOf(x.projection) - Object.keys(projections).indexOf(y.projection));
    for (const { layer, projection, a, b } of ordered) {
        const hfName = `layers.${layer}.${projections[projection].module}.${projection}`;
        if (a === undefined || b === undefined)
            throw new EngineError("modelFile", `${weightsFile}: ${hfName} has lora_${a === undefined ? "A" : "B"} missing`);
        const [nIn, nOut] = inOut(c, projection);
        const shapeOk = (tensor: SafetensorsTensor, shape: [number, number]): boolean =>
            tensor.shape.length === 2 && tensor.shape[0] === shape[0] && tensor.shape[1] === shape[1];
        if (!shapeOk(a, [config.r, nIn]))
            throw new EngineError("modelFile", `${weightsFile}: ${hfName}.lora_A has shape [${a.shape.join(", ")}], expected [${config.r}, ${nIn}] (r from adapter_config.json, the input width from config.json)`);
        if (!shapeOk(b, [nOut, config.r]))
            throw new EngineError("modelFile", `${weightsFile}: ${hfName}.lora_B has shape [${b.shape.join(", ")}], expected [${nOut}, ${config.r}]`);
        const base = `blk.${layer}.${projections[projection].llama}.weight`;
        tensors.push({ name: `${base}.lora_a`, dims: [nIn, config.r], source: a });
        tensors.push({ name: `${base}.lora_b`, dims: [config.r, nOut], source: b });
    }
    return { rank: config.r, alpha: config.lora_alpha, tensors };
}

export function loraMetadata(plan: LoraPlan): Record<string, GgufMetadataValue> {
    return {
        "general.type": gguf.string("adapter"),
        "general.architecture": gguf.string("qwen3"),
        "adapter.type": gguf.string("lora"),
        "adapter.lora.alpha": gguf.float32(plan.alpha),
    };
}
