// A circuit breaker per provider: closed (calls pass) → open after N failures in a row or a
// high failure rate (calls rejected at once) → half-open after a cool-down (a few probes
// pass) → closed when the probes succeed, open again when one fails.

import type { BreakerConfig } from "./config.js";

export type CircuitState = "closed" | "open" | "half-open";

export class CircuitBreaker {
  private stateNow: CircuitState = "closed";
  private consecutive = 0;
  /** Outcomes of the last `window` calls, true = failure. */
  private outcomes: boolean[] = [];
  private openedAt = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;

  constructor(
    private readonly config: BreakerConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** The state, moving open → half-open once the cool-down has passed. */
  get state(): CircuitState {
    if (this.stateNow === "open" && this.now() - this.openedAt >= this.config.coolDownMs) {
      this.stateNow = "half-open";
      this.probesInFlight = 0;
      this.probeSuccesses = 0;
    }
    return this.stateNow;
  }

  /** May a call go through now? In half-open this takes one probe slot, to be settled by `success`, `failure` or `cancel`. */
  tryAcquire(): boolean {
    const s = this.state;
    if (s === "closed") return true;
    if (s === "open" || this.probesInFlight >= this.config.halfOpenProbes) return false;
    this.probesInFlight++;
    return true;
  }

  success(): void {
    this.consecutive = 0;
    this.remember(false);
    if (this.stateNow !== "half-open") return;
    this.probesInFlight = Math.max(0, this.probesInFlight - 1);
    this.probeSuccesses++;
    if (this.probeSuccesses >= this.config.halfOpenProbes) this.close();
  }

  failure(): void {
    this.consecutive++;
    this.remember(true);
    if (this.stateNow === "open") return;
    if (this.stateNow === "half-open") {
      this.open();
      return;
    }
    const failures = this.outcomes.filter(Boolean).length;
    const rateTripped =
      this.outcomes.length >= this.config.minCalls && failures / this.outcomes.length >= this.config.failureRate;
    if (this.consecutive >= this.config.consecutiveFailures || rateTripped) this.open();
  }

  /** The call ended without saying anything about the provider's health (the client went away). */
  cancel(): void {
    if (this.stateNow === "half-open") this.probesInFlight = Math.max(0, this.probesInFlight - 1);
  }

  private remember(failed: boolean): void {
    this.outcomes.push(failed);
    if (this.outcomes.length > this.config.window) this.outcomes.shift();
  }

  private open(): void {
    this.stateNow = "open";
    this.openedAt = this.now();
  }

  private close(): void {
    this.stateNow = "closed";
    this.consecutive = 0;
    this.outcomes = [];
  }
}
