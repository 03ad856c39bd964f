import * as vscode from "vscode";

/** Where the Hugging Face token is kept: VS Code's SecretStorage (the OS keychain where there is one), never a setting. */
const secretKey = "tah.huggingFace.token";

export class HubToken {
    constructor(private readonly secrets: vscode.SecretStorage) {}

    /** The stored token, else HF_TOKEN (as the hub's own tools read it), else none. */
    async get(): Promise<string | undefined> {
        return (await this.secrets.get(secretKey)) || process.env.HF_TOKEN || undefined;
    }

    /** `TaH: Set Hugging Face Token…`: an empty answer clears it. */
    async ask(): Promise<void> {
        const token = await vscode.window.showInputBox({
            title: "TaH: Hugging Face token (for gated or private repositories)",
            prompt: "A read token from huggingface.co/settings/tokens. It is kept in VS Code's secret storage and sent only to the hub's endpoint. Leave empty to remove it.",
            password: true,
            ignoreFocusOut: true
        });
        if (token === undefined)
            return;
        if (token.trim() === "")
            return this.clear();
        await this.secrets.store(secretKey, token.trim());
        void vscode.window.showInformationMessage("TaH: the Hugging Face token is stored.");
    }

    async clear(): Promise<void> {
        await this.secrets.delete(secretKey);
        void vscode.window.showInformationMessage(`TaH: the Hugging Face token is removed${process.env.HF_TOKEN ? " (HF_TOKEN from the environment is still used)" : ""}.`);
    }
}
