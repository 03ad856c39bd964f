/**
 * TaH2's two small networks (tah2-inference.md §1.4-1.6): tah_config.json, input_updater.bin and iter_decider.bin
 * ({"class", "state_dict", "init_args"} dicts written by upstream's component_io, read through the restricted
 * torch.load) → tah2.gguf (docs/model-format.md). Follows upstream's from_pretrained: the constructor arguments are
 * tah_config.json's kwargs, and a threshold given there replaces the pickled buffer, rounded to bfloat16 as the
 * decider (built in bf16) holds it. Anything the engine cannot compute exactly is refused before a byte is written.
 */
import path from "node:path";
import { z } from "zod";
import { bfloat16BitsToFloat32, float32ToBfloat16Bits } from "../gguf/floatEncoding.js";
import { GgmlType, gguf, type GgufMetadataValue } from "../gguf/ggufTypes.js";
import type { GgufTensor } from "../gguf/ggufWriter.js";
import { EngineError } from "../engine/protocol/EngineError.js";
import { readJsonFile } from "./jsonFile.js";
import type { Qwen3Config } from "./qwen3Backbone.js";
import { PickleDict, describePickleValue, type PickleValue } from "./restrictedUnpickler.js";
import { loadTorchFile } from "./torchLoad.js";
import { TorchTensor } from "./torchPickleGlobals.js";

/** The most depths the engine runs (one llama.cpp sequence id per depth; the recipes use 2, 4 and 8). */
export const maxTah2Depths = 32;

/** Upstream's RMSNorm epsilon in both networks when their kwargs do not set one. */
const defaultEps = 1e-6;

const width = z.number().int().positive().max(1 << 16);

const smallNetKwargs = {
    hidden_size: width,
    intermediate_size: width,
    rms_norm_eps: z.number().positive().max(1).optional(),
};

const tah2ConfigSchema = z.object({
    embedding_key: z.string().default("model.embed_tokens"),
    max_iter: z.number().int().min(1).max(1024),
    input_updater: z.string(),
    iter_decider: z.string(),
    eval_iter_decider: z.string().nullish(),
    iter_attention_mode: z.string().default("duo"),
    weighted_hidden_method: z.string().default("stop_prob_mix"),
    input_updater_kwargs: z.object({
        ...smallNetKwargs,
        enable_norm_pre_mlp: z.boolean().optional(),
        enable_norm_out: z.boolean().optional(),
    }),
    iter_decider_kwargs: z.object({
        ...smallNetKwargs,
        topk: z.number().int().positive().max(1 << 21),
        threshold: z.number().min(0).max(1).optional(),
    }),
});

export interface Tah2Summary {
    readonly maxIter: number;
    readonly updaterWidth: number;
    readonly deciderWidth: number;
    readonly topK: number;
    readonly eps: number;
    /** What the engine compares the continue probability with. */
    readonly threshold: number;
    readonly thresholdSource: string;
    readonly storedDtypes: readonly string[];
}

export interface Tah2Plan {
    readonly metadata: Record<string, GgufMetadataValue>;
    readonly tensors: readonly GgufTensor[];
    readonly summary: Tah2Summary;
}

function bfloat16(value: number): number {
    return bfloat16BitsToFloat32(float32ToBfloat16Bits(value));
}

function swiGluShapes(prefix: string, hidden: number, mlpWidth: number): [string, number[]][] {
    return [
        [`${prefix}mlp.gate_proj.weight`, [mlpWidth, hidden]],
        [`${prefix}mlp.up_proj.weight`, [mlpWidth, hidden]],
        [`${prefix}mlp.down_proj.weight`, [hidden, mlpWidth]],
    ];
}

/** Torch shapes of Qwen3MLPUpdater's state dict (both optional norms on, as every recipe has them). */
function updaterShapes(h: number, mlpWidth: number): Map<string, number[]> {
    return new Map<string, number[]>([
        ["projection.weight", [h, 2 * h]], ...swiGluShapes("", h, mlpWidth),
        ["norm_prev.weight", [h]], ["norm_last.weight", [h]], ["norm_pre_mlp.weight", [h]], ["norm_out.weight", [h]],
    ]);
}

/** Torch shapes of Qwen3MLPIterDecider's state dict, without its threshold buffer. */
function deciderShapes(h: number, mlpWidth: number): Map<string, number[]> {
    return new Map<string, number[]>([
        ["norm_first.weight", [h]], ["norm_last.weight", [h]], ["norm_l.weight", [h]], ["input_proj.weight", [h, 3 * h]],
        ...swiGluShapes("", h, mlpWidth), ["norm_out.weight", [h]], ["score.weight", [1, h]],
    ]);
}

const floatBytes = (shapes: Map<string, number[]>): number =>
    [...shapes.values()].reduce((total, shape) => total + 4 * shape.reduce((product, dim) => product * dim, 1), 0);

interface Component {
    readonly tensors: GgufTensor[];
    readonly dtypes: Set<string>;
    readonly initArgs: PickleValue | undefined;
    readonly scalar: (key: string) => number | undefined;
}

/** Reads one component file and checks its class and every state-dict entry against `shapes`. */
async function readComponent(file: string, className: string, shapes: Map<string, number[]>, prefix: string, skipped: ReadonlySet<string>): Promise<Component> {
    const refuse: (problem: string) => never = (problem) => {
        throw new EngineError("modelFile", `${file}: ${problem}`);
    };
    // what the shapes imply in float32, plus room for a threshold and storages a little larger than their views
    const torchFile = await loadTorchFile(file, 2 * floatBytes(shapes) + (1 << 20));
    const root = torchFile.root;
    if (!(root instanceof PickleDict))
        refuse(`holds ${describePickleValue(root)}, not the {"class", "state_dict", "init_args"} dict upstream saves`);
    const pickledClass = root.get("class");
    if (pickledClass !== className)
        refuse(`the class is ${describePickleValue(pickledClass)}; only ${className} is supported`);
    const stateDict = root.get("state_dict");
    if (!(stateDict instanceof PickleDict))
        refuse(`"state_dict" is ${describePickleValue(stateDict)}, not a dict of tensors`);
    const tensors: GgufTensor[] = [];
    const dtypes = new Set<string>();
    for (const [key, value] of stateDict.entries) {
        if (typeof key !== "string" || skipped.has(key))
            continue;
        const shape = shapes.get(key);
        if (shape === undefined)
            refuse(`state_dict has the unexpected entry "${key}" (not part of a ${className} with the settings of tah_config.json)`);
        if (!(value instanceof TorchTensor))
            refuse(`state_dict entry "${key}" is ${describePickleValue(value)}, not a tensor`);
        if (value.shape.length !== shape.length || value.shape.some((dim, i) => dim !== shape[i]))
            refuse(`state_dict entry "${key}" has shape [${value.shape.join(", ")}], tah_config.json implies [${shape.join(", ")}]`);
        dtypes.add(value.storage.dtype);
        // Always F32: the CPU backend would round the networks' activations to 16 bits for F16/BF16 weights.
        tensors.push({ name: `${prefix}${key}`, dims: [...shape].reverse(), type: GgmlType.F32, data: torchFile.values(value, `state_dict entry "${key}"`) });
    }
    const found = new Set(tensors.map((tensor) => tensor.name.slice(prefix.length)));
    const missing = [...shapes.keys()].filter((key) => !found.has(key));
    if (missing.length > 0)
        refuse(`state_dict lacks ${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ` and ${missing.length - 4} more` : ""}`);
    const scalar = (key: string): number | undefined => {
        const value = stateDict.get(key);
        return value instanceof TorchTensor && value.shape.length === 0 ? torchFile.values(value, `state_dict entry "${key}"`)[0] : undefined;
    };
    return { tensors, dtypes, initArgs: root.get("init_args"), scalar };
}

/** A pickled init_args flag that turns off a norm the engine always applies; minisgl reads these before tah_config.json. */
function refuseDisabledNorms(file: string, initArgs: PickleValue | undefined): void {
    if (!(initArgs instanceof PickleDict))
        return;
    for (const flag of ["enable_norm_pre_mlp", "enable_norm_out"])
        if (initArgs.get(flag) === false)
            throw new EngineError("modelFile", `${file}: init_args.${flag} is false; the engine's updater always applies that norm`);
}

export async function planTah2Nets(checkpointDir: string, backbone: Qwen3Config): Promise<Tah2Plan> {
    const configFile = path.join(checkpointDir, "tah_config.json");
    const tah = await readJsonFile(configFile, tah2ConfigSchema);
    const refuseConfig: (problem: string) => never = (problem) => {
        throw new EngineError("modelFile", `${configFile}: ${problem}`);
    };
    if (tah.input_updater !== "Qwen3MLPUpdater")
        refuseConfig(`input_updater "${tah.input_updater}" is not supported (only Qwen3MLPUpdater)`);
    if (tah.iter_decider !== "Qwen3MLPIterDecider")
        refuseConfig(`iter_decider "${tah.iter_decider}" is not supported (only Qwen3MLPIterDecider)`);
    if (tah.eval_iter_decider !== null && tah.eval_iter_decider !== undefined && !tah.eval_iter_decider.startsWith("iter_decider"))
        refuseConfig(`eval_iter_decider "${tah.eval_iter_decider}" evaluates with another decider than the trained one; not supported`);
    if (tah.embedding_key !== "model.embed_tokens")
        refuseConfig(`embedding_key "${tah.embedding_key}" is not supported (the updater's anchor is model.embed_tokens)`);
    if (tah.max_iter < 2)
        refuseConfig(`max_iter ${tah.max_iter}: a single-depth checkpoint (TaH2 Standard) is a plain Qwen3; convert it with llama.cpp's convert_hf_to_gguf.py and load the .gguf`);
    if (tah.max_iter > maxTah2Depths)
        refuseConfig(`max_iter ${tah.max_iter} exceeds the ${maxTah2Depths} depths the engine runs`);
    if (tah.iter_attention_mode !== "duo")
        refuseConfig(`iter_attention_mode "${tah.iter_attention_mode}" is not supported (only duo; causal is the fixed-loop baseline)`);
    if (tah.weighted_hidden_method !== "stop_prob_mix")
        refuseConfig(`weighted_hidden_method "${tah.weighted_hidden_method}" is not supported (only stop_prob_mix)`);
    const upd = tah.input_updater_kwargs;
    const dec = tah.iter_decider_kwargs;
    const h = backbone.nEmbd;
    for (const [name, kwargs] of [["input_updater_kwargs", upd], ["iter_decider_kwargs", dec]] as const)
        if (kwargs.hidden_size !== h)
            refuseConfig(`${name}.hidden_size ${kwargs.hidden_size} differs from the backbone's hidden_size ${h}`);
    if (upd.enable_norm_pre_mlp === false || upd.enable_norm_out === false)
        refuseConfig("input_updater_kwargs turns off norm_pre_mlp or norm_out; the engine's updater always applies both");
    // norm_l has hidden_size weights and input_proj takes 3·hidden_size inputs: upstream runs no other top-k (§1.4)
    if (dec.topk !== h)
        refuseConfig(`iter_decider_kwargs.topk ${dec.topk} is not the hidden size ${h}: upstream's decider cannot run it (norm_l has hidden_size weights)`);
    const updEps = upd.rms_norm_eps ?? defaultEps;
    const eps = dec.rms_norm_eps ?? defaultEps;
    if (updEps !== eps)
        refuseConfig(`the updater's rms_norm_eps ${updEps} differs from the decider's ${eps}; the engine runs both networks with one epsilon`);

    const updaterFile = path.join(checkpointDir, "input_updater.bin");
    const deciderFile = path.join(checkpointDir, "iter_decider.bin");
    // as upstream's loader: state-dict keys that are also constructor arguments are dropped (the threshold buffer)
    const updater = await readComponent(updaterFile, "Qwen3MLPUpdater", updaterShapes(h, upd.intermediate_size), "updater.", new Set(Object.keys(upd)));
    refuseDisabledNorms(updaterFile, updater.initArgs);
    const decider = await readComponent(deciderFile, "Qwen3MLPIterDecider", deciderShapes(h, dec.intermediate_size), "decider.", new Set([...Object.keys(dec), "threshold"]));

    let threshold: number;
    let thresholdSource: string;
    if (dec.threshold !== undefined) {
        threshold = bfloat16(dec.threshold);
        thresholdSource = `tah_config.json ${dec.threshold} as bfloat16`;
    } else {
        const stored = decider.scalar("threshold");
        if (stored === undefined || !(stored >= 0 && stored <= 1))
            throw new EngineError("modelFile", `${deciderFile}: tah_config.json sets no threshold and the decider's threshold buffer is ${stored === undefined ? "missing" : `${stored}, not a probability`}`);
        threshold = stored;
        thresholdSource = "the decider's threshold buffer (tah_config.json sets none)";
    }

    const summary: Tah2Summary = {
        maxIter: tah.max_iter, updaterWidth: upd.intermediate_size, deciderWidth: dec.intermediate_size, topK: dec.topk, eps, threshold, thresholdSource,
        storedDtypes: [...new Set([...updater.dtypes, ...decider.dtypes])],
    };
    const metadata: Record<string, GgufMetadataValue> = {
        "general.architecture": gguf.string("tah2-nets"),
        "tah2.hidden_size": gguf.uint32(h),
        "tah2.updater.width": gguf.uint32(upd.intermediate_size),
        "tah2.decider.width": gguf.uint32(dec.intermediate_size),
        "tah2.decider.top_k": gguf.uint32(dec.topk),
        "tah2.rms_norm_epsilon": gguf.float32(eps),
        "tah.threshold": gguf.float32(threshold),
        "tah.max_iter": gguf.uint32(tah.max_iter),
    };
    return { metadata, tensors: [...updater.tensors, ...decider.tensors], summary };
}
