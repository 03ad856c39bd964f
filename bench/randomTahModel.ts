/**
 * Random-weight TaH models of a given shape for benchmarks: speed does not depend on the weights, so a model of
 * Qwen3-0.6B's shape with random weights measures what the real one would. Written once, cached outside the repo.
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { PatchedLlama } from "../src/engine/native/loadPatchedLlama.js";
import { encodeFloat16 } from "../src/gguf/floatEncoding.js";
import { GgmlType, gguf } from "../src/gguf/ggufTypes.js";
import { type GgufTensor, writeGguf } from "../src/gguf/ggufWriter.js";
import { fimOrdersKey } from "../src/engine/prompts/fimOrder.js";
import { codeVocabulary } from "./codeVocabulary.js";

export interface BenchShape {
    name: string;
    nLayer: number;
    nEmbd: number;
    nHead: number;
    nHeadKv: number;
    headDim: number;
    nFf: number;
    nVocab: number;
    taps: number[];
    deciderWidth: number;
    deciderBlocks: number;
    loraRank: number;
    loraAlpha: number;
}

/** What the backbone's file depends on (TaH2's bench shapes share it). */
export type BackboneShape = Omit<BenchShape, "taps" | "deciderWidth" | "deciderBlocks" | "loraRank" | "loraAlpha">;

/** Qwen3-0.6B with the 0.6B TaH recipe's decider and LoRA (tah-inference.md §1.3–§1.4). */
export const qwen3_0_6b: BenchShape = {
    name: "qwen3-0.6b-shape", nLayer: 28, nEmbd: 1024, nHead: 16, nHeadKv: 8, headDim: 128, nFf: 3072, nVocab: 151_936,
    taps: [0, 7, 13, 20, 26], deciderWidth: 256, deciderBlocks: 6, loraRank: 16, loraAlpha: 32
};

/** A small shape for the quick mode: the same code paths, seconds instead of minutes. */
export const tinyShape: BenchShape = {
    name: "tiny-shape", nLayer: 8, nEmbd: 256, nHead: 4, nHeadKv: 2, headDim: 64, nFf: 768, nVocab: 8192,
    taps: [0, 2, 4, 6], deciderWidth: 64, deciderBlocks: 2, loraRank: 8, loraAlpha: 16
};

const chunkElements = 1 << 20;

/** A fast seeded generator (xorshift32) of values uniform in [-scale, scale). */
function* uniformChunks(count: number, scale: number, seed: number): Generator<Float32Array> {
    let state = seed | 0 || 1;
    for (let done = 0; done < count; done += chunkElements) {
        const chunk = new Float32Array(Math.min(chunkElements, count - done));
        for (let i = 0; i < chunk.length; i++) {
            state ^= state << 13;
            state ^= state >>> 17;
            state ^= state << 5;
            chunk[i] = ((state >>> 0) / 4294967296 * 2 - 1) * scale;
        }
        yield chunk;
    }
}

/** F16 bytes of a tensor, produced chunk by chunk as the writer asks for them (a 0.6B model does not fit twice in memory). */
function* f16Stream(count: number, scale: number, seed: number): Generator<Uint8Array> {
    for (const chunk of uniformChunks(count, scale, seed)) {
        const encoded = encodeFloat16(chunk);
        yield new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    }
}

let seedCounter = 1;
export function matrix(name: string, inputs: number, outputs: number, type: "f16" | "f32" = "f16"): GgufTensor {
    const scale = Math.sqrt(3 / inputs);
    const seed = seedCounter++ * 2654435761;
    if (type === "f32") {
        const values = new Float32Array(inputs * outputs);
        let offset = 0;
        for (const chunk of uniformChunks(values.length, scale, seed)) {
            values.set(chunk, offset);
            offset += chunk.length;
        }
        return { name, dims: [inputs, outputs], type: GgmlType.F32, data: values };
    }
    return { name, dims: [inputs, outputs], type: GgmlType.F16, data: f16Stream(inputs * outputs, scale, seed) };
}

export function vector(name: string, length: number, value: number): GgufTensor {
    return { name, dims: [length], type: GgmlType.F32, data: new Float32Array(length).fill(value) };
}

const projections = (s: BackboneShape): Array<[string, number, number]> => [
    ["attn_q", s.nEmbd, s.nHead * s.headDim], ["attn_k", s.nEmbd, s.nHeadKv * s.headDim], ["attn_v", s.nEmbd, s.nHeadKv * s.headDim],
    ["attn_output", s.nHead * s.headDim, s.nEmbd], ["ffn_gate", s.nEmbd, s.nFf], ["ffn_up", s.nEmbd, s.nFf], ["ffn_down", s.nFf, s.nEmbd]
];

export async function writeBackbone(file: string, s: BackboneShape): Promise<void> {
    const tensors: GgufTensor[] = [matrix("token_embd.weight", s.nEmbd, s.nVocab), vector("output_norm.weight", s.nEmbd, 1)];
    for (let i = 0; i < s.nLayer; i++) {
        tensors.push(vector(`blk.${i}.attn_norm.weight`, s.nEmbd, 1), vector(`blk.${i}.ffn_norm.weight`, s.nEmbd, 1),
            vector(`blk.${i}.attn_q_norm.weight`, s.headDim, 1), vector(`blk.${i}.attn_k_norm.weight`, s.headDim, 1));
        for (const [name, inputs, outputs] of projections(s))
            tensors.push(matrix(`blk.${i}.${name}.weight`, inputs, outputs));
    }
    await writeGguf(file, {
        metadata: {
            "general.architecture": gguf.string("qwen3"),
            "general.name": gguf.string(s.name),
            "qwen3.context_length": gguf.uint32(40960),
            "qwen3.embedding_length": gguf.uint32(s.nEmbd),
            "qwen3.block_count": gguf.uint32(s.nLayer),
            "qwen3.feed_forward_length": gguf.uint32(s.nFf),
            "qwen3.attention.head_count": gguf.uint32(s.nHead),
            "qwen3.attention.head_count_kv": gguf.uint32(s.nHeadKv),
            "qwen3.attention.key_length": gguf.uint32(s.headDim),
            "qwen3.attention.value_length": gguf.uint32(s.headDim),
            "qwen3.attention.layer_norm_rms_epsilon": gguf.float32(1e-6),
            "qwen3.rope.freq_base": gguf.float32(1e6),
            ...codeVocabulary(s.nVocab),
            // random weights know no order; declaring both lets the bench measure the SPM path (see fimOrder.ts)
            [fimOrdersKey]: gguf.string("psm,spm")
        },
        tensors,
        sync: false
    });
}

async function writeLora(file: string, s: BenchShape): Promise<void> {
    const tensors: GgufTensor[] = [];
    for (let i = 0; i < s.nLayer; i++) {
        for (const [name, inputs, outputs] of projections(s)) {
            // F16, as the converter writes a LoRA for a quantized backbone
            tensors.push(matrix(`blk.${i}.${name}.weight.lora_a`, inputs, s.loraRank));
            tensors.push(matrix(`blk.${i}.${name}.weight.lora_b`, s.loraRank, outputs));
        }
    }
    await writeGguf(file, {
        metadata: {
            "general.type": gguf.string("adapter"), "general.architecture": gguf.string("qwen3"),
            "adapter.type": gguf.string("lora"), "adapter.lora.alpha": gguf.float32(s.loraAlpha)
        },
        tensors,
        sync: false
    });
}

async function writeDecider(file: string, s: BenchShape): Promise<void> {
    const d = s.deciderWidth;
    const k = 100;
    const linear = (name: string, inputs: number, outputs: number): GgufTensor[] =>
        [matrix(`${name}.weight`, inputs, outputs, "f32"), vector(`${name}.bias`, outputs, 0)];
    const tensors: GgufTensor[] = [
        ...linear("logits_projection", k, s.nEmbd),
        ...linear("combined_projection", s.taps.length * s.nEmbd + s.nEmbd, d),
        ...linear("backbone.input_projection", d, d)
    ];
    for (let b = 0; b < s.deciderBlocks; b++)
        tensors.push(vector(`backbone.blocks.${b}.layer_norm.weight`, d, 1), vector(`backbone.blocks.${b}.layer_norm.bias`, d, 0),
            ...linear(`backbone.blocks.${b}.mlp.0`, d, 4 * d), ...linear(`backbone.blocks.${b}.mlp.3`, 4 * d, d));
    tensors.push(vector("backbone.output_layer.0.weight", d, 1), vector("backbone.output_layer.0.bias", d, 0), ...linear("backbone.output_layer.1", d, 1));
    await writeGguf(file, {
        metadata: {
            "general.architecture": gguf.string("tah-decider"),
            "tah.decider.taps": gguf.array("int32", s.taps),
            "tah.decider.logit_top_k": gguf.uint32(k),
            "tah.soft_embedding_top_k": gguf.uint32(k),
            "tah.decider.hidden_size": gguf.uint32(s.nEmbd),
            "tah.decider.width": gguf.uint32(d),
            "tah.decider.block_count": gguf.uint32(s.deciderBlocks),
            "tah.decider.layer_norm_epsilon": gguf.float32(1e-5),
            "tah.decider.gelu": gguf.string("erf"),
            "tah.threshold": gguf.float32(0.9),
            "tah.max_iter": gguf.uint32(2)
        },
        tensors,
        sync: false
    });
}

/**
 * The folder of a random TaH model of `shape` with a Q8_0 backbone (llama.cpp's quantizer), generated on first
 * use under `cacheDir` and reused afterwards.
 */
export async function randomTahModel(cacheDir: string, shape: BenchShape, patched: PatchedLlama, threads: number, log: (message: string) => void): Promise<string> {
    const folder = path.join(cacheDir, `${shape.name}-q8_0-v4`);
    if (existsSync(path.join(folder, "tah-model.json")))
        return folder;
    const partial = `${folder}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    try {
        seedCounter = 1;
        log(`generating ${shape.name} (random weights, F16) …`);
        await writeBackbone(path.join(partial, "backbone-f16.gguf"), shape);
        log("quantizing the backbone to Q8_0 with llama.cpp's quantizer …");
        await patched.bindings.tahQuantize(path.join(partial, "backbone-f16.gguf"), path.join(partial, "backbone.gguf"), { ftype: 7, threads });
        await rm(path.join(partial, "backbone-f16.gguf"));
        await writeLora(path.join(partial, "lora.gguf"), shape);
        await writeDecider(path.join(partial, "decider.gguf"), shape);
        await writeFile(path.join(partial, "tah-model.json"), `${JSON.stringify({
            format: "tah-copilot-model", version: 1, name: `${shape.name} (random weights)`,
            backbone: "backbone.gguf", lora: "lora.gguf", decider: "decider.gguf", source: { checkpoint: "bench/randomTahModel.ts", type: "q8_0" }
        }, null, 4)}\n`);
        await rm(folder, { recursive: true, force: true });
        await rename(partial, folder);
        return folder;
    } catch (error) {
        await rm(partial, { recursive: true, force: true });
        throw error;
    }
}
