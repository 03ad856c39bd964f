/** How urgently a context's steps are wanted: ghost text is waited for keystroke by keystroke, chat and analysis are not. */
export type StepPriority = "interactive" | "background";

interface Waiting {
    priority: StepPriority;
    start: () => void;
}

/**
 * Native steps of every context of one engine process, one at a time. The contexts share the same cores (or GPU): two
 * decodes at once would each run at about half speed, so a keystroke's completion would wait as long as a chat token
 * anyway. Serialising them lets an interactive step go before every waiting background step; it then waits for at
 * most the one step already running.
 */
export class StepQueue {
    private readonly waiting: Waiting[] = [];
    private running = false;

    run<T>(priority: StepPriority, step: () => Promise<T>): Promise<T> {
        return new Promise<T>((resolve, reject) => {
            const start = (): void => {
                this.running = true;
                step().then(resolve, reject).finally(() => {
                    this.running = false;
                    this.next();
                });
            };
            // interactive steps pass waiting background ones; within a priority the order is kept
            const at = priority === "interactive" ? this.waiting.findIndex((entry) => entry.priority === "background") : -1;
            this.waiting.splice(at === -1 ? this.waiting.length : at, 0, { priority, start });
            if (!this.running)
                this.next();
        });
    }

    private next(): void {
        this.waiting.shift()?.start();
    }
}
