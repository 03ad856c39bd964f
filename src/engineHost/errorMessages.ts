// The one table from an engine error's code to what the user reads and can do about it. The notification, the
// status bar and the chat all take their words from here; nothing on the host side looks at an error's class or text.
import { type EngineErrorCode, engineErrorCodeOf } from "../engine/protocol/EngineError.js";

/** What a message can offer; the host turns each into a button (EngineHost) or a link (chat). */
export type ErrorAction = "pickModel" | "openSettings" | "useCpu" | "restartEngine" | "retry" | "setEngineToken" | "showLogs";

export const errorActionLabels: Readonly<Record<ErrorAction, string>> = {
    pickModel: "Pick a Model…",
    openSettings: "Open Settings",
    useCpu: "Use the CPU",
    restartEngine: "Restart Engine",
    retry: "Retry",
    setEngineToken: "Set Token…",
    showLogs: "Show Logs"
};

export interface ErrorDescription {
    readonly code: EngineErrorCode;
    /** One line: what went wrong, with the engine's own detail. */
    readonly text: string;
    /** What to do about it. */
    readonly hint: string;
    readonly actions: readonly ErrorAction[];
    /** The setting that openSettings opens. */
    readonly setting?: string;
    /** A few words for the status bar. */
    readonly status: string;
}

type Entry = Omit<ErrorDescription, "code" | "text"> & { readonly text: (detail: string) => string };

const table: Readonly<Record<EngineErrorCode, Entry>> = {
    modelFile: {
        text: (detail) => `The model could not be read: ${detail}`,
        hint: "Pick another model, or check the model's files.",
        actions: ["pickModel", "openSettings", "showLogs"], setting: "tah.modelPath", status: "model not loaded"
    },
    unsupportedModel: {
        text: (detail) => `This model cannot run in TaH Copilot: ${detail}`,
        hint: "Pick a TaH model folder (made by “TaH: Convert a TaH Checkpoint…”) or a plain GGUF model.",
        actions: ["pickModel", "showLogs"], status: "model not supported"
    },
    nativeBuild: {
        text: (detail) => `The engine's native library cannot be loaded: ${detail}`,
        hint: "Reinstall the extension: its package carries the engine for this platform. The log has the details.",
        actions: ["showLogs"], status: "engine cannot start"
    },
    unsupportedCpu: {
        text: (detail) => `This CPU cannot run the engine: ${detail}`,
        hint: "The engine needs an x86-64 CPU with SSE4.2 or newer; this machine's CPU lacks it, so TaH Copilot cannot run here.",
        actions: ["showLogs"], status: "CPU not supported"
    },
    gpuUnavailable: {
        text: (detail) => `The GPU backend cannot start: ${detail}`,
        hint: "Update or install the GPU driver, or run on the CPU (setting tah.gpu).",
        actions: ["useCpu", "openSettings", "showLogs"], setting: "tah.gpu", status: "GPU unavailable"
    },
    noModel: {
        text: () => "No model is loaded.",
        hint: "Pick a model (setting tah.modelPath).",
        actions: ["pickModel"], status: "no model"
    },
    aborted: {
        text: () => "Cancelled.",
        hint: "Nothing went wrong: the request was cancelled.",
        actions: [], status: "cancelled"
    },
    contextFull: {
        text: () => "The request does not fit in the model's context window.",
        hint: "Shorten the input (start a new chat, select less code), or raise the setting tah.contextSize.",
        actions: ["openSettings"], setting: "tah.contextSize", status: "context full"
    },
    invalidRequest: {
        text: (detail) => `The engine refused the request: ${detail}`,
        hint: "Check the TaH settings; the log has the details.",
        actions: ["openSettings", "showLogs"], setting: "tah", status: "request refused"
    },
    busy: {
        text: () => "The engine is busy with other requests.",
        hint: "Try again in a moment.",
        actions: [], status: "busy"
    },
    timeout: {
        text: (detail) => `The engine stopped responding: ${detail}`,
        hint: "It is restarted and loads the model again. If it keeps happening, the log has the details.",
        actions: ["showLogs"], status: "engine not responding"
    },
    crashed: {
        text: (detail) => `The engine process stopped unexpectedly: ${detail}`,
        hint: "It is restarted and loads the model again, unless it keeps stopping: then restart it once the cause is fixed. The log has the details.",
        actions: ["restartEngine", "showLogs"], status: "engine stopped"
    },
    stopped: {
        text: () => "The engine was restarted before the request finished.",
        hint: "Try again.",
        actions: [], status: "restarting"
    },
    unreachable: {
        text: (detail) => `The remote engine cannot be reached: ${detail}`,
        hint: "Check that tah serve runs there and the network reaches it, then retry; or clear the setting tah.engine.url to run the engine on this machine.",
        actions: ["retry", "openSettings", "showLogs"], setting: "tah.engine.url", status: "remote unreachable"
    },
    unauthorized: {
        text: (detail) => `The remote engine refused the token: ${detail}`,
        hint: "Set the token its tah serve was started with (--api-key), then retry.",
        actions: ["setEngineToken", "retry"], status: "remote refused the token"
    },
    internal: {
        text: (detail) => `The engine failed: ${detail}`,
        hint: "Try again; if it keeps failing, the log has the details.",
        actions: ["showLogs"], status: "engine error"
    }
};

/** What to tell the user about any thrown value (its code from engineErrorCodeOf). */
export function describeEngineError(error: unknown): ErrorDescription {
    const code = engineErrorCodeOf(error);
    const detail = error instanceof Error ? error.message : String(error);
    const { text, ...rest } = table[code];
    return { code, text: text(detail), ...rest };
}

/** The description as one message: what went wrong (closed as a sentence), then what to do. */
export function errorSentence(description: Pick<ErrorDescription, "text" | "hint">): string {
    return `${description.text}${/[.!?…]$/.test(description.text) ? "" : "."} ${description.hint}`;
}
