// What the router decided for one request, for the audit log and the `x-aigc-route`
// response header. Holds provider names, zones, status codes and error kinds — never
// prompt or completion text, and never an upstream's error message (it may echo the prompt).

import type { ProviderErrorCode, Zone } from "../providers/index.js";
import type { CircuitState } from "./breaker.js";

/**
 * Why the answering provider was chosen:
 * - "sensitive": sensitive request, private zone only;
 * - "primary": non-sensitive, the private provider had capacity;
 * - "overflow": non-sensitive, the private zone was too busy (queue or p95 latency);
 * - "fallback": non-sensitive, the preferred provider failed or its circuit was open;
 * - "unavailable": no provider answered (the request failed).
 */
export type RouteReason = "sensitive" | "primary" | "overflow" | "fallback" | "unavailable";

export type AttemptOutcome = "ok" | "error" | "circuit-open";

export interface RouteAttempt {
  readonly provider: string;
  readonly zone: Zone;
  readonly outcome: AttemptOutcome;
  /** HTTP status of a failed attempt. */
  readonly status?: number;
  readonly error?: ProviderErrorCode;
  readonly ms: number;
}

export interface RouteDecision {
  readonly kind: "route";
  /** ISO time the request was routed. */
  readonly at: string;
  readonly requestId?: string;
  readonly model: string;
  readonly endpoint?: string;
  readonly stream: boolean;
  /** The provider that answered; null when none did. */
  readonly provider: string | null;
  readonly zone: Zone | null;
  readonly reason: RouteReason;
  readonly sensitive: boolean;
  /** Why it was classified sensitive (e.g. "pii:email,phone", "endpoint:/v1/medical"); no text spans. */
  readonly sensitiveReason?: string;
  readonly attempts: readonly RouteAttempt[];
  /** Circuit state of every provider when the decision was made. */
  readonly circuits: Readonly<Record<string, CircuitState>>;
  /** Until the answer (whole requests) or the first chunk (streams). */
  readonly latencyMs: number;
}

/**
 * The `x-aigc-route` header value: `provider=local; zone=private; reason=primary; attempts=1; sensitive=false`,
 * plus `; failed=vllm:503,vllm:timeout,cloud:open` when attempts failed (HTTP status, error kind, or open circuit).
 * Provider names are restricted to header-safe characters by the config schema.
 */
export function formatRouteHeader(decision: RouteDecision): string {
  const failure = (a: RouteAttempt): string | number | undefined =>
    a.outcome === "circuit-open" ? "open" : a.error === "http_error" ? a.status : a.error;
  const failed = decision.attempts.filter((a) => a.outcome !== "ok").map((a) => `${a.provider}:${failure(a)}`);
  const parts = [
    `provider=${decision.provider ?? "none"}`,
    `zone=${decision.zone ?? "none"}`,
    `reason=${decision.reason}`,
    `attempts=${decision.attempts.filter((a) => a.outcome !== "circuit-open").length}`,
    `sensitive=${decision.sensitive}`,
  ];
  if (failed.length > 0) parts.push(`failed=${failed.join(",")}`);
  return parts.join("; ");
}
