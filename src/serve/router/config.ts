// Router settings with their defaults (the server config embeds this as `router`).

import { z } from "zod";

const positiveInt = () => z.int({ error: "expected a positive integer" }).positive({ error: "expected a positive integer" });
const nonNegativeInt = () => z.int({ error: "expected an integer >= 0" }).nonnegative({ error: "expected an integer >= 0" });

export const breakerConfigSchema = z.strictObject({
  /** Open after this many failures in a row. */
  consecutiveFailures: positiveInt().default(5),
  /** …or when at least this share of the last `window` calls failed (0–1]. */
  failureRate: z
    .number({ error: "expected a number in (0, 1]" })
    .gt(0, { error: "expected a number in (0, 1]" })
    .max(1, { error: "expected a number in (0, 1]" })
    .default(0.5),
  /** Calls remembered for the failure rate. */
  window: positiveInt().default(20),
  /** The failure rate is only judged once this many calls are in the window. */
  minCalls: positiveInt().default(10),
  /** How long an open circuit rejects calls before letting a probe through. */
  coolDownMs: positiveInt().default(30_000),
  /** Probes let through at once while half-open; that many successes close the circuit. */
  halfOpenProbes: positiveInt().default(1),
});

export const routerConfigSchema = z.strictObject({
  /** When the private provider is this busy, non-sensitive requests go to the public zone. */
  overflow: z
    .strictObject({
      /** Requests waiting at the private provider (`load().queued`). */
      queueDepth: positiveInt().default(32),
      /** Its recent 95th-percentile latency. */
      p95LatencyMs: positiveInt().default(10_000),
    })
    .prefault({}),
  retries: z
    .strictObject({
      /** Extra tries on the same provider after a retryable error (5xx, 429, timeout, refused). */
      maxRetries: nonNegativeInt().default(2),
      /** First backoff; it doubles each retry, with jitter. */
      backoffMs: positiveInt().default(100),
      maxBackoffMs: positiveInt().default(2_000),
    })
    .prefault({}),
  breaker: breakerConfigSchema.prefault({}),
  /** Append one JSON line per routing decision here (no prompt text is ever written). */
  auditLog: z.string().min(1).optional(),
  /** Path prefixes whose requests are sensitive by definition (never leave the private zone). */
  sensitiveEndpoints: z
    .array(z.string().startsWith("/", { error: "expected a path starting with '/'" }))
    .default(["/v1/medical"]),
});

export type BreakerConfig = z.output<typeof breakerConfigSchema>;
export type RouterConfig = z.output<typeof routerConfigSchema>;
export type RouterConfigInput = z.input<typeof routerConfigSchema>;
