import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { EngineError } from "../engine/protocol/engineError.js";

/** Reads and validates a JSON file; every failure names the file and says what is wrong. */
export async function readJsonFile<Schema extends z.ZodType>(file: string, schema: Schema): Promise<z.infer<Schema>> {
    let text: string;
    try {
        text = await readFile(file, "utf8");
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new EngineError("modelFile", code === "ENOENT" ? `${file} is missing` : `cannot read ${file} (${code ?? String(error)})`, { cause: error });
    }
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
