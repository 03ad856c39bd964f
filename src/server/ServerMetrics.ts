import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Generation } from "./generation.js";
import type { RequestQueue } from "./RequestQueue.js";

/** What operators scrape at /metrics (Prometheus text format); one registry per server, so tests stay apart. */
export class ServerMetrics {
    readonly registry = new Registry();
    readonly requests = new Counter({ name: "tah_http_requests_total", help: "HTTP requests answered, by route and status", labelNames: ["route", "status"] as const, registers: [this.registry] });
    readonly duration = new Histogram({
        name: "tah_http_request_duration_seconds",
        help: "Time from request to the end of its answer, by route",
        labelNames: ["route"] as const,
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
        registers: [this.registry]
    });
    readonly queueRejections = new Counter({ name: "tah_queue_rejections_total", help: "Requests refused because the queue was full (HTTP 429)", registers: [this.registry] });
    readonly cancellations = new Counter({ name: "tah_client_cancellations_total", help: "Requests whose client went away before the answer ended", registers: [this.registry] });
    readonly promptTokens = new Counter({ name: "tah_prompt_tokens_total", help: "Prompt tokens of answered requests (where the engine reported them)", registers: [this.registry] });
    readonly generatedTokens = new Counter({ name: "tah_generated_tokens_total", help: "Tokens of answers", registers: [this.registry] });
    readonly iteratedTokens = new Counter({ name: "tah_iterated_tokens_total", help: "Tokens of answers that took TaH's second, latent pass", registers: [this.registry] });

    readonly queueWaiting: Gauge;
    readonly queueRunning: Gauge;

    constructor(queue: RequestQueue) {
        collectDefaultMetrics({ register: this.registry, prefix: "tah_" });
        this.queueWaiting = new Gauge({ name: "tah_queue_waiting", help: "Requests waiting for the engine", registers: [this.registry], collect() { this.set(queue.depth); } });
        this.queueRunning = new Gauge({ name: "tah_queue_running", help: "Requests the engine is working on", registers: [this.registry], collect() { this.set(queue.active); } });
    }

    recordGeneration(generation: Generation): void {
        if (generation.promptTokens !== null)
            this.promptTokens.inc(generation.promptTokens);
        this.generatedTokens.inc(generation.tokens.length);
        this.iteratedTokens.inc(generation.tokens.filter((token) => token.iterated).length);
    }
}
