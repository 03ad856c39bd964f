import type { ServerResponse } from "node:http";

/** A server-sent event stream as OpenAI and llama-server write it: `data: JSON` events, `data: [DONE]` at the end. */
export class SseStream {
    constructor(private readonly response: ServerResponse) {
        response.writeHead(200, {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            connection: "keep-alive",
            // reverse proxies (nginx) would otherwise hold the tokens back
            "x-accel-buffering": "no"
        });
        response.flushHeaders();
    }

    send(data: unknown): void {
        if (!this.response.writableEnded && !this.response.destroyed)
            this.response.write(`data: ${JSON.stringify(data)}\n\n`);
    }

    /** Ends the stream; OpenAI's streams say `[DONE]`, llama-server's /infill stream does not. */
    end(done: boolean): void {
        if (this.response.writableEnded)
            return;
        if (done)
            this.response.write("data: [DONE]\n\n");
        this.response.end();
    }
}
