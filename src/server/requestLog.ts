/** One structured log record: a JSON object on one line (requests, the engine's messages, the server's life). */
export type LogRecord = { level: "debug" | "info" | "warn" | "error"; msg: string } & Record<string, unknown>;

export type LogSink = (record: LogRecord) => void;

/** JSON lines on stdout, each with its time, for a log collector or `jq`. */
export const stdoutLog: LogSink = (record) => {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
};
