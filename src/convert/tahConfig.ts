/**
 * tah_config.json, TaH's `TaHConfig` dataclass (tah-inference.md §1.4). torch dtypes are stored as
 * {"__dtype__": true, "__str__": "torch.bfloat16"}, decoded here to the dtype's name ("bfloat16"). Only the keys the
 * converter uses are validated; the rest (training settings, losses) are ignored.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { EngineError } from "../engine/protocol/EngineError.js";
import { readJsonFile } from "./jsonFile.js";

export type TorchFloatName = "float32" | "float16" | "bfloat16";

/** TaH's `_DTYPE_BY_STR`: any other dtype string decodes to float32, as the reference does. */
function dtypeName(text: string): TorchFloatName {
    const name = text.replace(/^torch\./, "");
    return name === "float16" || name === "bfloat16" ? name : "float32";
}

/** The encoded form `_config_to_serialisable` writes; a bare "torch.bfloat16" string is read the same way. */
const dtypeSchema = z.union([
    z.object({ __dtype__: z.literal(true), __str__: z.string() }).transform(({ __str__ }) => dtypeName(__str__)),
    z.string().transform(dtypeName),
]);

/** The most decider blocks the converter writes (TaH's decider has 3; the engine's decider graph is sized for few). */
export const maxDeciderBlocks = 32;

/** MLPIterDecider's constructor arguments, bounded before they size anything; unknown keys (e.g. load_path) are ignored. */
const deciderKwargsSchema = z.object({
    topk: z.number().int().positive().max(1 << 16).optional(),
    hidden_states_size: z.number().int().positive().max(65_536).optional(),
    hidden_states_layer_nums: z.array(z.number().int()).max(1024).optional(),
    hidden_dims: z.array(z.number().int().positive().max(1 << 16)).max(maxDeciderBlocks).optional(),
    expansion_factor: z.number().int().positive().max(64).optional(),
    dropout_rate: z.number().optional(),
    normalize_input: z.boolean().optional(),
    threshold: z.number().min(0).max(1).optional(),
    max_iter: z.number().int().max(64).optional(),
    dtype: dtypeSchema.optional(),
});

export type DeciderKwargs = z.infer<typeof deciderKwargsSchema>;

const tahConfigSchema = z.object({
    embedding_key: z.string().default("model.embed_tokens"),
    max_iter: z.number().int().max(64).nullish(),
    iter_decider: z.string().nullish(),
    iter_decider_kwargs: deciderKwargsSchema.default({}),
    eval_iter_decider: z.string().nullish(),
    input_updater_kwargs: z.object({ topk: z.number().int().positive().max(1 << 16).optional() }).default({}),
    adapter: z.string().default("lora"),
});

export type TahConfig = z.infer<typeof tahConfigSchema> & { readonly file: string };

export async function readTahConfig(dir: string): Promise<TahConfig> {
    const file = path.join(dir, "tah_config.json");
    return { ...(await readJsonFile(file, tahConfigSchema)), file };
}

/** v1's legacy updater name (tah-inference.md §1.4); any other named updater is a TaH2 one. */
const v1UpdaterNames = new Set(["TrivialUpdater"]);

const generationKeysSchema = z.object({ input_updater: z.string().nullish() });

/**
 * Which kind of checkpoint a folder holds, from its files: no tah_config.json is a plain model; an input_updater.bin,
 * or an input updater other than v1's, is TaH2 (tah2-inference.md §1.1); otherwise TaH v1.
 */
export async function checkpointGeneration(dir: string): Promise<"plain" | 1 | 2> {
    const file = path.join(dir, "tah_config.json");
    if (!existsSync(file)) {
        if (existsSync(path.join(dir, "config.json")))
            return "plain";
        throw new EngineError("modelFile", `${dir} has neither config.json nor tah_config.json: not a Hugging Face checkpoint folder`);
    }
    if (existsSync(path.join(dir, "input_updater.bin")))
        return 2;
    const updater = (await readJsonFile(file, generationKeysSchema)).input_updater;
    return updater === null || updater === undefined || v1UpdaterNames.has(updater) ? 1 : 2;
}
