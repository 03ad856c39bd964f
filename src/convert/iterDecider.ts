/**
 * The decider: iter_decider.bin ({"class", "state_dict", "init_args"}, written by TaH's save_iter_decider) plus
 * tah_config.json → decider.gguf (docs/model-format.md). Follows TaH's from_pretrained: the constructor arguments
 * are tah_config.json's iter_decider_kwargs over MLPIterDecider's defaults, and state-dict keys that are also
 * constructor arguments (the learned `threshold`) are dropped, so the threshold is the config's — rounded to the
 * decider's dtype, as the reference's nn.Parameter holds it (0.9 in bfloat16 is 0.8984375).
 */
import path from "node:path";
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits } from "../gguf/floatEncoding.js";
import { GgmlType, gguf, type GgufMetadataValue } from "../gguf/ggufTypes.js";
import type { GgufTensor } from "../gguf/ggufWriter.js";
import { EngineError } from "../engine/protocol/EngineError.js";
import type { Qwen3Config } from "./qwen3Backbone.js";
import { PickleDict, describePickleValue } from "./restrictedUnpickler.js";
import type { TahConfig, TorchFloatName } from "./tahConfig.js";
import { loadTorchFile } from "./torchLoad.js";
import { TorchTensor } from "./torchPickleGlobals.js";

/** MLPIterDecider's constructor defaults (tah/model/iter_decider.py). */
const defaults = {
    topk: 100,
    hidden_states_size: 1024,
    hidden_states_layer_nums: [16, 20, 24, 28],
    hidden_dims: [256, 512, 256],
    expansion_factor: 4,
    normalize_input: false,
    threshold: 0.5,
    max_iter: 3,
    dtype: "bfloat16" as TorchFloatName,
};

export interface DeciderSummary {
    readonly taps: readonly number[];
    readonly width: number;
    readonly blocks: number;
    readonly logitTopK: number;
    readonly softEmbeddingTopK: number;
    /** What the engine compares P(hard) with. */
    readonly threshold: number;
    /** Where it came from, for the report: "tah_config.json 0.9 as bfloat16", … */
    readonly thresholdSource: string;
    readonly maxIter: number;
    /** The dtypes of the stored tensors. */
    readonly storedDtypes: readonly string[];
}

export interface DeciderPlan {
    readonly metadata: Record<string, GgufMetadataValue>;
    readonly tensors: readonly GgufTensor[];
    readonly summary: DeciderSummary;
}

function roundTo(dtype: TorchFloatName, value: number): number {
    if (dtype === "bfloat16")
        return bfloat16BitsToFloat32(float32ToBfloat16Bits(value));
    if (dtype === "float16")
        return float16BitsToFloat32(float32ToFloat16Bits(value));
    return Math.fround(value);
}

/** Torch shapes of every decider tensor, by state-dict name. */
function expectedShapes(nTaps: number, hidden: number, topK: number, width: number, blocks: number): Map<string, number[]> {
    const shapes = new Map<string, number[]>([
        ["logits_projection.weight", [hidden, topK]], ["logits_projection.bias", [hidden]],
        ["combined_projection.weight", [width, nTaps * hidden + hidden]], ["combined_projection.bias", [width]],
        ["backbone.input_projection.weight", [width, width]], ["backbone.input_projection.bias", [width]],
    ]);
    for (let b = 0; b < blocks; b++) {
        const block = `backbone.blocks.${b}`;
        shapes.set(`${block}.layer_norm.weight`, [width]).set(`${block}.layer_norm.bias`, [width])
            .set(`${block}.mlp.0.weight`, [4 * width, width]).set(`${block}.mlp.0.bias`, [4 * width])
            .set(`${block}.mlp.3.weight`, [width, 4 * width]).set(`${block}.mlp.3.bias`, [width]);
    }
    shapes.set("backbone.output_layer.0.weight", [width]).set("backbone.output_layer.0.bias", [width])
        .set("backbone.output_layer.1.weight", [1, width]).set("backbone.output_layer.1.bias", [1]);
    return shapes;
}

export async function planDecider(checkpointDir: string, tah: TahConfig, backbone: Qwen3Config): Promise<DeciderPlan> {
    const file = path.join(checkpointDir, "iter_decider.bin");
    const refuseConfig: (problem: string) => never = (problem) => {
        throw new EngineError("modelFile", `${tah.file}: ${problem}`);
    };
    if (tah.embedding_key !== "model.embed_tokens")
        refuseConfig(`embedding_key "${tah.embedding_key}" is not supported (the soft embedding must mix model.embed_tokens rows)`);
    if (tah.adapter !== "lora")
        refuseConfig(`adapter "${tah.adapter}" is not supported (only lora)`);
    if (tah.eval_iter_decider !== null && tah.eval_iter_decider !== undefined && !tah.eval_iter_decider.startsWith("iter_decider"))
        refuseConfig(`eval_iter_decider "${tah.eval_iter_decider}" evaluates with another decider than the trained one; not supported`);

    const kwargs = tah.iter_decider_kwargs;
    const args = { ...defaults, ...kwargs };
    const taps = args.hidden_states_layer_nums;
    if (args.normalize_input)
        refuseConfig("iter_decider_kwargs.normalize_input is true; the engine's decider reads raw hidden states and logits");
    if (args.expansion_factor !== 4)
        refuseConfig(`iter_decider_kwargs.expansion_factor is ${args.expansion_factor}; the engine's decider blocks expand by 4`);
    if (args.hidden_dims.length === 0 || args.hidden_dims.some((dim) => dim !== args.hidden_dims[0]))
        refuseConfig(`iter_decider_kwargs.hidden_dims [${args.hidden_dims.join(", ")}] must be one repeated width (the engine has no width-changing blocks)`);
    if (args.hidden_states_size !== backbone.nEmbd)
        refuseConfig(`iter_decider_kwargs.hidden_states_size ${args.hidden_states_size} differs from the backbone's hidden_size ${backbone.nEmbd}`);
    if (taps.length === 0 || taps.some((tap) => tap < 0 || tap >= backbone.nLayer))
        refuseConfig(`iter_decider_kwargs.hidden_states_layer_nums [${taps.join(", ")}] must name layer inputs 0..${backbone.nLayer - 1}`);
    if (args.topk > backbone.vocabSize)
        refuseConfig(`iter_decider_kwargs.topk ${args.topk} exceeds the vocabulary (${backbone.vocabSize})`);
    const softEmbeddingTopK = tah.input_updater_kwargs.topk ?? 100;
    if (softEmbeddingTopK > backbone.vocabSize)
        refuseConfig(`input_updater_kwargs.topk ${softEmbeddingTopK} exceeds the vocabulary (${backbone.vocabSize})`);
    // The wrapper loops while depth < its max_iter; the decider stops at its own: the smaller one wins.
    const maxIter = Math.min(tah.max_iter ?? Infinity, args.max_iter);
    if (maxIter < 1)
        refuseConfig(`max_iter ${maxIter} leaves no depth to run`);

    const width = args.hidden_dims[0];
    const blocks = args.hidden_dims.length;
    const shapes = expectedShapes(taps.length, backbone.nEmbd, args.topk, width, blocks);
    // what the settings imply, in float32, plus the threshold and room for storages a little larger than their views
    const impliedBytes = [...shapes.values()].reduce((total, shape) => total + 4 * shape.reduce((product, dim) => product * dim, 1), 4);
    const torchFile = await loadTorchFile(file, 2 * impliedBytes + (1 << 20));
    const root = torchFile.root;
    const refuse: (problem: string) => never = (problem) => {
        throw new EngineError("modelFile", `${file}: ${problem}`);
    };
    if (!(root instanceof PickleDict))
        refuse(`holds ${describePickleValue(root)}, not the {"class", "state_dict", "init_args"} dict TaH saves`);
    const className = tah.iter_decider ?? root.get("class");
    if (className !== "MLPIterDecider")
        refuse(`the decider class is ${describePickleValue(className)}; only MLPIterDecider is supported`);
    const stateDict = root.get("state_dict");
    if (!(stateDict instanceof PickleDict))
        refuse(`"state_dict" is ${describePickleValue(stateDict)}, not a dict of tensors`);

    // As TaH's load_iter_decider: state-dict keys that are also given constructor arguments are dropped. The
    // threshold is never a weight: it is settled here and skipped below.
    const dropped = new Set([...Object.keys(kwargs), "threshold"]);
    let threshold = roundTo(args.dtype, args.threshold);
    let thresholdSource = `${path.basename(tah.file)} ${args.threshold} as ${args.dtype}`;
    if (kwargs.threshold === undefined) {
        const learned = stateDict.get("threshold");
        if (learned instanceof TorchTensor && learned.shape.length === 0) {
            threshold = torchFile.values(learned, "the state_dict entry threshold")[0];
            if (!(threshold >= 0 && threshold <= 1))
                refuse(`the learned threshold is ${threshold}, not a probability`);
            thresholdSource = `the learned threshold in ${path.basename(file)} (${path.basename(tah.file)} sets none)`;
        } else {
            thresholdSource = `MLPIterDecider's default ${args.threshold} as ${args.dtype} (${path.basename(tah.file)} sets none)`;
        }
    }

    const tensors: GgufTensor[] = [];
    const storedDtypes = new Set<string>();
    for (const [key, value] of stateDict.entries) {
        if (typeof key !== "string" || dropped.has(key))
            continue;
        const shape = shapes.get(key);
        if (shape === undefined)
            refuse(`state_dict has the unexpected entry "${key}" (not part of an MLPIterDecider with the settings of ${path.basename(tah.file)})`);
        if (!(value instanceof TorchTensor))
            refuse(`state_dict entry "${key}" is ${describePickleValue(value)}, not a tensor`);
        if (value.shape.length !== shape.length || value.shape.some((dim, i) => dim !== shape[i]))
            refuse(`state_dict entry "${key}" has shape [${value.shape.join(", ")}], the settings in ${path.basename(tah.file)} imply [${shape.join(", ")}]`);
        storedDtypes.add(value.storage.dtype);
        // Always F32: the CPU backend would round the decider's activations to 16 bits for F16/BF16 weights.
        tensors.push({ name: key, dims: [...shape].reverse(), type: GgmlType.F32, data: torchFile.values(value, `state_dict entry "${key}"`) });
    }
    const found = new Set(tensors.map((tensor) => tensor.name));
    const missing = [...shapes.keys()].filter((key) => !found.has(key));
    if (missing.length > 0)
        refuse(`state_dict lacks ${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ` and ${missing.length - 4} more` : ""}`);

    const summary: DeciderSummary = {
        taps, width, blocks, logitTopK: args.topk, softEmbeddingTopK, threshold, thresholdSource, maxIter, storedDtypes: [...storedDtypes],
    };
    const metadata: Record<string, GgufMetadataValue> = {
        "general.architecture": gguf.string("tah-decider"),
        "tah.decider.taps": gguf.array("int32", taps),
        "tah.decider.logit_top_k": gguf.uint32(args.topk),
        "tah.soft_embedding_top_k": gguf.uint32(softEmbeddingTopK),
        "tah.decider.hidden_size": gguf.uint32(backbone.nEmbd),
        "tah.decider.width": gguf.uint32(width),
        "tah.decider.block_count": gguf.uint32(blocks),
        "tah.decider.layer_norm_epsilon": gguf.float32(1e-5),
        "tah.decider.gelu": gguf.string("erf"),
        "tah.threshold": gguf.float32(threshold),
        "tah.max_iter": gguf.uint32(maxIter),
    };
    return { metadata, tensors, summary };
}
