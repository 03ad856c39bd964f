// `tah serve` as its own process on loopback, as a user starts it: the UI test's remote engine. Resolves once the
// server logs that it listens (its URL); stop() ends it with SIGTERM (SIGKILL after 5 s).
import { spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { repoRoot } from "./codeServer.js";

export interface ServeProcess {
    readonly url: string;
    stop(): Promise<void>;
}

export async function startServeProcess(model: string, apiKey: string): Promise<ServeProcess> {
    const child = spawn(process.execPath, [path.join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs"), path.join(repoRoot, "src", "cli", "main.ts"), "serve",
        "--model", model, "--port", "0", "--api-key", apiKey, "--gpu", "cpu", "--threads", "1", "--ctx-size", "4096"], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("tah serve did not listen within 120 s")), 120_000);
        child.once("exit", (code) => reject(new Error(`tah serve exited with ${code} before listening`)));
        createInterface({ input: child.stdout }).on("line", (line) => {
            try {
                const record = JSON.parse(line) as { msg?: string; url?: string };
                if (record.msg === "listening" && record.url !== undefined) {
                    clearTimeout(timer);
                    resolve(record.url);
                }
            } catch {
                // not a log record
            }
        });
    });
    return {
        url,
        stop: async () => {
            child.kill("SIGTERM");
            const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
            await exited;
            clearTimeout(killer);
        }
    };
}
