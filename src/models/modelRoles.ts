/**
 * Which model serves which role, from the settings (issue 11: `tah.completion.model`, `tah.chat.model`; file analysis
 * follows chat unless set; `tah.modelPath` is the older single setting, used for the roles not set), and the distinct
 * models to load, each with the roles it serves: one model for several roles is loaded once.
 */
import path from "node:path";

export type ModelRole = "completion" | "chat" | "analysis";

export interface RoleSettings {
    readonly completionModel?: string;
    readonly chatModel?: string;
    readonly analysisModel?: string;
    /** The older single setting: every role's model where that role's own is empty. */
    readonly modelPath?: string;
}

export interface LoadedModel {
    /** Absolute. */
    readonly path: string;
    readonly roles: readonly ModelRole[];
}

export interface RoleAssignment {
    readonly byRole: Readonly<Record<ModelRole, string>>;
    /** In the order of the roles' first appearance: completion, chat, analysis. */
    readonly models: readonly LoadedModel[];
}

const roles: readonly ModelRole[] = ["completion", "chat", "analysis"];

/** An empty or blank setting is unset, as VS Code shows an untouched string setting. */
function setting(value: string | undefined): string | undefined {
    return value === undefined || value.trim() === "" ? undefined : value;
}

/** `defaultModel`: the model that ships with the extension; relative paths are taken from `baseDir`. */
export function resolveModelRoles(settings: RoleSettings, defaultModel: string, baseDir: string): RoleAssignment {
    const fallback = setting(settings.modelPath) ?? defaultModel;
    const chat = path.resolve(baseDir, setting(settings.chatModel) ?? fallback);
    const byRole: Record<ModelRole, string> = {
        completion: path.resolve(baseDir, setting(settings.completionModel) ?? fallback),
        chat,
        analysis: path.resolve(baseDir, setting(settings.analysisModel) ?? chat),
    };
    const models: { path: string; roles: ModelRole[] }[] = [];
    for (const role of roles) {
        const existing = models.find((model) => model.path === byRole[role]);
        if (existing === undefined)
            models.push({ path: byRole[role], roles: [role] });
        else
            existing.roles.push(role);
    }
    return { byRole, models };
}
