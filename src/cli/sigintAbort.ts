/**
 * Ctrl-C once aborts the signal, so the command stops at its next check and cleans up (or keeps what resumes);
 * twice exits at once. dispose() removes the handler.
 */
export function sigintAbort(): { signal: AbortSignal; dispose: () => void } {
    const controller = new AbortController();
    const onSigint = (): void => {
        if (controller.signal.aborted)
            process.exit(130);
        console.error("\ninterrupting (press Ctrl-C again to quit at once)…");
        controller.abort();
    };
    process.on("SIGINT", onSigint);
    return { signal: controller.signal, dispose: () => process.off("SIGINT", onSigint) };
}
