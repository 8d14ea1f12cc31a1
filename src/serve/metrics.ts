// Prometheus metrics of one server (its own registry, so two servers in one process — tests,
// the gateway benchmark — never mix their counts). Served at GET /metrics.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface MetricsSources {
  /** Per local model: the continuous batcher's queue, running rows and mean batch. */
  batchers(): Record<string, { queued: number; running: number; meanBatch: number; steps: number }>;
  /** Response cache counters. */
  cache(): { hits: number; misses: number; errors: number };
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "aigc_requests_total",
    help: "Requests answered, by endpoint, model, HTTP status, provider, zone and cache result",
    labelNames: ["endpoint", "model", "status", "provider", "zone", "cache"] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: "aigc_request_duration_seconds",
    help: "Time from request to the last byte of the response",
    labelNames: ["endpoint", "cache"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: "aigc_tokens_total",
    help: "Tokens processed, by kind (prompt, completion), model and provider",
    labelNames: ["kind", "model", "provider"] as const,
    registers: [this.registry],
  });
  readonly costUsd = new Counter({
    name: "aigc_cost_usd_total",
    help: "Cost recorded in the ledger, by tenant and provider",
    labelNames: ["tenant", "provider"] as const,
    registers: [this.registry],
  });
  readonly routeDecisions = new Counter({
    name: "aigc_route_decisions_total",
    help: "Hybrid-router decisions, by provider, zone and reason",
    labelNames: ["provider", "zone", "reason"] as const,
    registers: [this.registry],
  });

  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry, prefix: "aigc_" });
    const batcherGauge = (name: string, help: string, pick: (l: ReturnType<MetricsSources["batchers"]>[string]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["model"] as const,
        registers: [this.registry],
        collect() {
          for (const [model, load] of Object.entries(sources.batchers())) this.set({ model }, pick(load));
        },
      });
    batcherGauge("aigc_batcher_queued", "Requests waiting for a row in the local engine's batch", (l) => l.queued);
    batcherGauge("aigc_batcher_running", "Sequences in the local engine's running batch", (l) => l.running);
    batcherGauge("aigc_batcher_mean_batch", "Mean live sequences per decode step since start", (l) => l.meanBatch);
    batcherGauge("aigc_batcher_steps", "Decode steps run since start", (l) => l.steps);
    const cacheGauge = (name: string, help: string, pick: (c: ReturnType<MetricsSources["cache"]>) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(pick(sources.cache()));
        },
      });
    cacheGauge("aigc_cache_hits", "Response-cache hits since start", (c) => c.hits);
    cacheGauge("aigc_cache_misses", "Response-cache misses since start", (c) => c.misses);
    cacheGauge("aigc_cache_errors", "Response-cache backend errors since start (the requests still succeeded)", (c) => c.errors);
  }
}
