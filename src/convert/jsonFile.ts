import type { z } from "zod";
import { readRegularFile } from "../engine/model/safeFiles.js";
import { EngineError } from "../engine/protocol/EngineError.js";

/** The largest JSON file a checkpoint has is tokenizer.json (Qwen3's: 11 MB). */
const maxJsonBytes = 64 << 20;

/** Reads and validates a JSON file (a regular file inside its folder); every failure names the file and says what is wrong. */
export async function readJsonFile<Schema extends z.ZodType>(file: string, schema: Schema): Promise<z.infer<Schema>> {
    const text = (await readRegularFile(file, { maxBytes: maxJsonBytes })).toString("utf8");
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (error) {
        throw new EngineError("modelFile", `${file} is not valid JSON (${(error as Error).message})`, { cause: error });
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
        const problems = result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
        throw new EngineError("modelFile", `${file} is not what the converter expects: ${problems.join("; ")}`);
    }
    return result.data;
}
