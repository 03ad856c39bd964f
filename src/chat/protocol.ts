// Messages between the chat webview and the extension host. Webview messages are untrusted input: the host
// validates them with these schemas before acting on them.
// zod/mini, imported as a namespace, lets esbuild keep only what is used (~30 kB instead of ~700 kB with `{ z }`).
import * as z from "zod/mini";

export const webviewMessageSchema = z.discriminatedUnion("type", [
    z.object({ type: z.literal("ready") }),
]);
export type WebviewMessage = z.infer<typeof webviewMessageSchema>;

export interface EngineStateMessage {
    readonly type: "state";
    readonly connected: boolean;
    readonly text: string;
}
export type HostMessage = EngineStateMessage;
