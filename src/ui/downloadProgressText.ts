// What the download notification says: bytes, speed and time left (free of VS Code, so tests read every case).
import { formatBytes } from "../format/formatBytes.js";
import type { DownloadProgress } from "../models/downloadProgress.js";

function duration(seconds: number): string {
    if (seconds < 60)
        return `${Math.max(1, Math.round(seconds))} s`;
    if (seconds < 3600)
        return `${Math.round(seconds / 60)} min`;
    return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function downloadProgressText(progress: DownloadProgress): string {
    const parts = [`${formatBytes(progress.doneBytes)} of ${formatBytes(progress.totalBytes)}`];
    if (progress.bytesPerSecond !== undefined)
        parts.push(`${formatBytes(progress.bytesPerSecond)}/s`);
    if (progress.secondsLeft !== undefined && progress.doneBytes < progress.totalBytes)
        parts.push(`${duration(progress.secondsLeft)} left`);
    parts.push(`${progress.filesDone}/${progress.filesTotal} files`);
    return parts.join(" · ");
}
