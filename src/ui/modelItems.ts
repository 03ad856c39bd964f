/**
 * The Models view's rows, free of VS Code: each installed model with its kind, type, size on disk, the roles it serves
 * and, when loaded, the memory it takes; and the context value that decides which actions its menu offers.
 */
import path from "node:path";
import type { ModelSummary } from "../engine/protocol/engineProtocol.js";
import { formatBytes } from "../format/formatBytes.js";
import type { InstalledModel } from "../models/installedModels.js";

export type ServedRole = "chat" | "completion";

export interface ModelItem {
    readonly model: InstalledModel;
    readonly label: string;
    readonly description: string;
    readonly tooltip: string;
    /** Space-separated flags matched by package.json's menus (`viewItem =~ /\bflag\b/`). */
    readonly contextValue: string;
    readonly icon: "sparkle" | "file-binary" | "package" | "cloud-download";
    readonly roles: readonly ServedRole[];
}

const kindWords: Readonly<Record<InstalledModel["kind"], string>> = {
    tah: "TaH", gguf: "plain GGUF", checkpoint: "TaH checkpoint", partial: "download not finished",
};

const iconOf: Readonly<Record<InstalledModel["kind"], ModelItem["icon"]>> = {
    tah: "sparkle", gguf: "file-binary", checkpoint: "package", partial: "cloud-download",
};

/** The roles a model serves: the settings' files, resolved; file analysis follows chat. */
export function servedRoles(model: InstalledModel, roles: { readonly chat: string | undefined; readonly completion: string | undefined }): ServedRole[] {
    const same = (other: string | undefined): boolean => other !== undefined && path.resolve(other) === model.path;
    return [...(same(roles.chat) ? ["chat" as const] : []), ...(same(roles.completion) ? ["completion" as const] : [])];
}

/** The memory a loaded model takes: its weights once and the KV cache of every role it serves. */
function loadedBytes(model: InstalledModel, loaded: readonly ModelSummary[]): number | undefined {
    const mine = loaded.filter((summary) => path.resolve(summary.path) === model.path && summary.memory !== undefined);
    if (mine.length === 0)
        return undefined;
    return (mine[0].memory?.weightsBytes ?? 0) + mine.reduce((sum, summary) => sum + (summary.memory?.kvCacheBytes ?? 0), 0);
}

function roleWords(roles: readonly ServedRole[]): string {
    return roles.map((role) => (role === "chat" ? "chat, file analysis" : "ghost text")).join(", ");
}

export function modelItem(model: InstalledModel, roles: { readonly chat: string | undefined; readonly completion: string | undefined }, loaded: readonly ModelSummary[]): ModelItem {
    const served = servedRoles(model, roles);
    const memory = loadedBytes(model, loaded);
    const parts = [kindWords[model.kind], ...(model.type !== undefined ? [model.type] : []), formatBytes(model.sizeBytes)];
    if (served.length > 0)
        parts.push(roleWords(served));
    if (memory !== undefined)
        parts.push(`${formatBytes(memory)} loaded`);
    const loadable = model.kind === "tah" || model.kind === "gguf";
    const flags = [
        "tahModel",
        `kind-${model.kind}`,
        ...(loadable ? ["loadable"] : []),
        ...(model.managed ? ["managed"] : []),
        // converting again needs the checkpoint: a TaH model's kept one, or a checkpoint itself
        ...((model.kind === "tah" && model.checkpoint !== undefined) || model.kind === "checkpoint" ? ["convertible"] : []),
        ...(model.kind === "partial" ? ["resumable"] : []),
    ];
    const where = model.managed ? "in the models folder" : "outside the models folder (from a setting; Delete is not offered)";
    return {
        model,
        label: model.name,
        description: parts.join(" · "),
        tooltip: `${model.path}\n${kindWords[model.kind]}${model.type !== undefined ? `, ${model.type}` : ""}, ${formatBytes(model.sizeBytes)} on disk, ${where}`
            + (served.length > 0 ? `\nServes: ${roleWords(served)}` : "")
            + (memory !== undefined ? `\nLoaded: ${formatBytes(memory)} (weights and KV cache)` : ""),
        contextValue: flags.join(" "),
        icon: iconOf[model.kind],
        roles: served,
    };
}

/** The rows whose context value carries `flag` (what the view's menu offers an action for). */
export function itemsWithFlag(items: readonly ModelItem[], flag: string): ModelItem[] {
    return items.filter((item) => item.contextValue.split(" ").includes(flag));
}
