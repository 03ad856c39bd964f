import type { TahModel } from "../model/TahModel.js";
import type { AddonTahContext } from "../native/tahBindings.js";
import { EngineError } from "../protocol/EngineError.js";
import { StepQueue, type StepPriority } from "./StepQueue.js";
import { TahSequence } from "./TahSequence.js";

export interface TahContextOptions {
    /** Logical sequences side by side (for example chat and inline completion). */
    sequences: number;
    /** The most tokens one sequence may hold (prompt and generated). */
    contextSize: number;
    threads: number;
    /** The most tokens per native step; longer prompts are prefilled in chunks of this size. */
    batchSize?: number;
    /** KV cells kept for each depth after 0, as a share of contextSize (1 = every token may run every depth). */
    iterationHeadroom?: number;
    kvType?: "f16" | "f32";
    flashAttention?: "auto" | boolean;
    /** The queue shared with the process's other contexts (default: one of its own). */
    steps?: StepQueue;
    priority?: StepPriority;
}

const ggmlTypeIds = { f32: 0, f16: 1 } as const;

/** KV cells a sequence of `positions` reserves on `model`: depth 0 for every position, deeper depths for a share of them. */
export function kvCellsPerSequence(model: TahModel, positions: number, iterationHeadroom: number): number {
    // v1 has one deeper depth whatever its decider's max_iter says; TaH2 has max_iter − 1
    const deeperDepths = model.generation === 2 ? model.maxDepths - 1 : model.kind === "tah" ? 1 : 0;
    return Math.ceil(positions * (1 + deeperDepths * iterationHeadroom));
}

interface RunningStep {
    signal: AbortSignal | undefined;
}

/**
 * One native context shared by several sequences. Native steps run one at a time, in the order asked, and in turn with
 * the other contexts of the same StepQueue; an abort reaches the native decode only when the step running belongs to
 * the request that aborted.
 */
export class TahContext {
    readonly options: Required<TahContextOptions>;
    /** KV cells reserved for all sequences and their depth-1 entries (what sizes the KV cache). */
    readonly kvCells: number;
    private readonly sequenceList: TahSequence[];
    private tail: Promise<unknown> = Promise.resolve();
    private running: RunningStep | undefined;
    private disposed = false;

    private constructor(readonly model: TahModel, readonly native: AddonTahContext, options: Required<TahContextOptions>, kvCells: number) {
        this.options = options;
        this.kvCells = kvCells;
        this.sequenceList = Array.from({ length: options.sequences }, (_, index) => new TahSequence(this, index));
    }

    static async create(model: TahModel, options: TahContextOptions): Promise<TahContext> {
        const resolved: Required<TahContextOptions> = {
            batchSize: 128,
            iterationHeadroom: 0.5,
            kvType: "f16",
            flashAttention: "auto",
            steps: new StepQueue(),
            priority: "background",
            ...options
        };
        const positions = resolved.contextSize;
        const kvCells = resolved.sequences * kvCellsPerSequence(model, positions, resolved.iterationHeadroom);
        const native = new model.patched.bindings.AddonTahContext(model.native, {
            positionsPerSequence: positions,
            kvCells,
            batchSize: resolved.batchSize,
            sequences: resolved.sequences,
            threads: resolved.threads,
            flashAttention: resolved.flashAttention === "auto" ? -1 : resolved.flashAttention ? 1 : 0,
            kvType: ggmlTypeIds[resolved.kvType],
            // see TahEvaluator::preallocateDepth1: on a GPU the scheduler must not grow its buffers mid-run
            preallocateDepth1: model.kind === "tah" && model.llamaModel.gpuLayers > 0 ? 1 : 0
        });
        await native.init();
        const context = new TahContext(model, native, resolved, kvCells);
        try {
            model.adopt(context);
        } catch (error) {
            native.dispose();
            throw error;
        }
        return context;
    }

    sequence(index: number): TahSequence {
        const sequence = this.sequenceList[index];
        if (sequence === undefined)
            throw new RangeError(`no sequence ${index} (the context has ${this.sequenceList.length})`);
        return sequence;
    }

    /** Runs a native step after the ones already asked for. */
    schedule<T>(signal: AbortSignal | undefined, step: () => Promise<T>): Promise<T> {
        const run = async (): Promise<T> => {
            if (this.disposed)
                throw new EngineError("stopped", "the context is disposed (its model was unloaded)");
            if (signal?.aborted === true)
                throw new EngineError("aborted", "aborted");
            const running: RunningStep = { signal };
            this.running = running;
            const onAbort = (): void => {
                if (this.running === running)
                    this.native.abort();
            };
            signal?.addEventListener("abort", onAbort, { once: true });
            try {
                return await step();
            } catch (error) {
                if (signal?.aborted)
                    throw new EngineError("aborted", "aborted", { cause: error });
                throw error;
            } finally {
                signal?.removeEventListener("abort", onAbort);
                this.running = undefined;
            }
        };
        // the next step of this context joins the shared queue once its previous one is done: the order stays as asked
        const queued = (): Promise<T> => this.options.steps.run(this.options.priority, run);
        const result = this.tail.then(queued, queued);
        this.tail = result.catch(() => undefined);
        return result;
    }

    async dispose(): Promise<void> {
        if (this.disposed)
            return;
        this.disposed = true;
        this.native.abort();
        await this.tail;
        this.native.dispose();
        this.model.release(this);
    }
}
