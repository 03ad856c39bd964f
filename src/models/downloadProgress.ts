/**
 * What a download has done and how long the rest will take: bytes, speed over the last few seconds, time left.
 * Pure (the caller gives the time), so that it is tested without a clock. Bytes found on disk from an earlier run
 * count as done but not as speed.
 */

export interface DownloadProgress {
    readonly doneBytes: number;
    readonly totalBytes: number;
    /** Over the last `windowMs`; undefined until there is enough to measure. */
    readonly bytesPerSecond: number | undefined;
    readonly secondsLeft: number | undefined;
    readonly filesDone: number;
    readonly filesTotal: number;
}

interface Sample {
    readonly atMs: number;
    /** Bytes received in this run up to then. */
    readonly received: number;
}

export class ProgressModel {
    private resumedBytes = 0;
    private receivedBytes = 0;
    private filesDone = 0;
    private samples: Sample[] = [];

    /** `windowMs`: how far back the speed looks; `minSpanMs`: the least span it measures over. */
    constructor(readonly totalBytes: number, readonly filesTotal: number, private readonly windowMs = 5000, private readonly minSpanMs = 500) {}

    /** Bytes already on disk (a resumed partial file or a complete one). */
    resumed(bytes: number): void {
        this.resumedBytes += bytes;
    }

    received(bytes: number, nowMs: number): void {
        if (this.samples.length === 0)
            this.samples.push({ atMs: nowMs, received: this.receivedBytes });
        this.receivedBytes += bytes;
        this.samples.push({ atMs: nowMs, received: this.receivedBytes });
        // Keep one sample at or before the window's start, so the span always covers the window.
        while (this.samples.length > 2 && this.samples[1].atMs <= nowMs - this.windowMs)
            this.samples.shift();
    }

    /** A file starts again from zero (the server ignored the Range): its bytes so far no longer count. */
    restarted(resumedBytes: number, receivedBytes: number): void {
        this.resumedBytes -= resumedBytes;
        this.receivedBytes -= receivedBytes;
        this.samples = [];
    }

    fileDone(): void {
        this.filesDone++;
    }

    snapshot(nowMs: number): DownloadProgress {
        const doneBytes = Math.min(this.resumedBytes + this.receivedBytes, this.totalBytes);
        const first = this.samples[0];
        const span = first === undefined ? 0 : nowMs - first.atMs;
        const bytesPerSecond = first !== undefined && span >= this.minSpanMs ? ((this.receivedBytes - first.received) * 1000) / span : undefined;
        const left = this.totalBytes - doneBytes;
        const secondsLeft = left === 0 ? 0 : bytesPerSecond !== undefined && bytesPerSecond > 0 ? left / bytesPerSecond : undefined;
        return { doneBytes, totalBytes: this.totalBytes, bytesPerSecond, secondsLeft, filesDone: this.filesDone, filesTotal: this.filesTotal };
    }
}
