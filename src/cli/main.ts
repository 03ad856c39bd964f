#!/usr/bin/env node
import { toEngineError } from "../engine/protocol/EngineError.js";
import { DownloadError } from "../models/DownloadError.js";
import { convertCommand, convertUsage } from "./convertCommand.js";
import { pullCommand, pullUsage } from "./pullCommand.js";
import { serveCommand, serveUsage } from "./serveCommand.js";
import { traceCommand, traceUsage } from "./traceCommand.js";
import { UsageError } from "./UsageError.js";

const commands: Record<string, { run: (argv: string[]) => Promise<void>; usage: string }> = {
    trace: { run: traceCommand, usage: traceUsage },
    convert: { run: convertCommand, usage: convertUsage },
    pull: { run: pullCommand, usage: pullUsage },
    serve: { run: serveCommand, usage: serveUsage }
};

const usage = `tah — the TaH Copilot engine from the command line

${Object.values(commands).map((command) => command.usage).join("\n\n")}`;

async function main(argv: string[]): Promise<number> {
    const [name, ...rest] = argv;
    const command = name === undefined ? undefined : commands[name];
    if (command === undefined) {
        console.error(name === undefined || name === "--help" ? usage : `unknown command "${name}"\n\n${usage}`);
        return name === "--help" ? 0 : 2;
    }
    try {
        await command.run(rest);
        return 0;
    } catch (error) {
        if (error instanceof UsageError) {
            console.error(`tah ${name}: ${error.message}\n\n${command.usage}`);
            return 2;
        }
        // one line with the code; the stack only on request, since a user cannot act on it
        const failure = error instanceof DownloadError ? error : toEngineError(error);
        console.error(`tah ${name}: ${failure.message} (${failure.code})`);
        if (failure.code === "internal" && process.env.TAH_DEBUG !== undefined)
            console.error(error instanceof Error ? error.stack : String(error));
        return failure.code === "aborted" ? 130 : 1;
    }
}

process.exitCode = await main(process.argv.slice(2));
