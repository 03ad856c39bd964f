/**
 * How `tah pull` shows progress: on a terminal one line redrawn in place (bytes, speed, time left, files); in a log
 * (not a terminal) a plain line at every tenth and at every file done. Conversion stages print once each.
 */
import { formatBytes } from "../format/formatBytes.js";
import type { DownloadProgress } from "../models/downloadProgress.js";
import type { InstallProgress } from "../models/installFromHub.js";


export function formatDuration(seconds: number): string {
    const s = Math.ceil(seconds);
    if (s < 60)
        return `${s}s`;
    if (s < 3600)
        return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function formatDownload(p: DownloadProgress): string {
    const percent = p.totalBytes === 0 ? 100 : Math.floor((p.doneBytes / p.totalBytes) * 100);
    const speed = p.bytesPerSecond === undefined ? "" : `  ${formatBytes(p.bytesPerSecond)}/s`;
    const left = p.secondsLeft === undefined || p.doneBytes === p.totalBytes ? "" : `  ${formatDuration(p.secondsLeft)} left`;
    return `downloading ${String(percent).padStart(3)}%  ${formatBytes(p.doneBytes)} / ${formatBytes(p.totalBytes)}${speed}${left}  (${p.filesDone}/${p.filesTotal} files)`;
}

export interface ProgressPrinter {
    readonly onProgress: (progress: InstallProgress) => void;
    /** Ends a line left open on a terminal. */
    readonly finish: () => void;
}

export function progressPrinter(stream: NodeJS.WriteStream): ProgressPrinter {
    const tty = stream.isTTY;
    let openLine = false;
    let lastTenth = -1;
    let lastFiles = -1;
    let lastStage = "";
    const endLine = (): void => {
        if (openLine)
            stream.write("\n");
        openLine = false;
    };
    return {
        onProgress: (progress) => {
            if (progress.stage === "list") {
                stream.write(`${progress.message}\n`);
            } else if (progress.stage === "download") {
                const p = progress.download;
                if (tty) {
                    stream.write(`\r${formatDownload(p)}\x1b[K`);
                    openLine = true;
                    return;
                }
                const tenth = p.totalBytes === 0 ? 10 : Math.floor((p.doneBytes / p.totalBytes) * 10);
                if (tenth !== lastTenth || p.filesDone !== lastFiles)
                    stream.write(`${formatDownload(p)}\n`);
                lastTenth = tenth;
                lastFiles = p.filesDone;
            } else if (progress.convert.stage !== lastStage) {
                endLine();
                lastStage = progress.convert.stage;
                stream.write(`${progress.convert.message}\n`);
            }
        },
        finish: endLine,
    };
}
