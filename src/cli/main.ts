#!/usr/bin/env node
import { ModelFileError } from "../engine/model/modelFiles.js";
import { EngineError } from "../engine/protocol/engineError.js";
import { convertCommand, convertUsage } from "./convertCommand.js";
import { traceCommand, traceUsage } from "./traceCommand.js";
import { UsageError } from "./usageError.js";

const commands: Record<string, { run: (argv: string[]) => Promise<void>; usage: string }> = {
    trace: { run: traceCommand, usage: traceUsage },
    convert: { run: convertCommand, usage: convertUsage }
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
        if (error instanceof ModelFileError || error instanceof EngineError) {
            console.error(`tah ${name}: ${error.message}`);
            return 1;
        }
        throw error;
    }
}

process.exitCode = await main(process.argv.slice(2));
