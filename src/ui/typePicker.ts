import os from "node:os";
import * as vscode from "vscode";
import type { OutputTypeName } from "../convert/outputTypes.js";
import { formatBytes } from "../format/formatBytes.js";
import { chooseDefaultType, estimateMemory, type ModelShape, type TahShape } from "../models/memoryEstimate.js";

/** The types offered for a TaH conversion, most useful first; the converter accepts more from the CLI. */
const offered: readonly OutputTypeName[] = ["q8_0", "q6_k", "q5_k_m", "q4_k_m", "bf16", "f16", "f32"];

/** The default from this machine's memory, changeable: each type with its estimated memory need. */
export async function pickConversionType(shape: ModelShape, tah: TahShape, title: string): Promise<OutputTypeName | undefined> {
    const choice = chooseDefaultType(shape, os.totalmem(), { tah });
    const ordered = [choice.type, ...offered.filter((type) => type !== choice.type)];
    const picked = await vscode.window.showQuickPick(ordered.map((type) => {
        const estimate = estimateMemory(shape, { type, tah });
        return {
            label: type,
            description: type === choice.type ? (choice.fits ? "recommended for this machine's memory" : "the smallest offered; it may still not fit") : undefined,
            detail: `${formatBytes(estimate.weightsBytes)} on disk, about ${formatBytes(estimate.totalBytes)} loaded (of ${formatBytes(os.totalmem())} memory)`,
            type
        };
    }), { title, placeHolder: "The weight type to convert the checkpoint to" });
    return picked?.type;
}
