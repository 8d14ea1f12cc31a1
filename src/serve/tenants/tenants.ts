// Tenants: who a request is (API key → tenant), whether it may run now (rate limits) and
// at all (budget). Backends are passed in: in-memory for one process, Redis for replicas.

import { timingSafeEqual } from "node:crypto";
import { HttpError } from "../errors.js";
import { hashApiKey, parseBearer } from "./apiKeys.js";
import { anonymousTenantId, type RateLimit, type TenantsConfig } from "./config.js";
import type { BudgetHold, Ledger } from "./ledger.js";
import type { RateCounter, RateLimiter } from "./rateLimiter.js";

/** A tenant as requests see it: no key material. */
export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly rateLimit?: RateLimit;
  readonly budgetUsd?: number;
}

/** 429 with the seconds after which a retry can succeed (send as the Retry-After header). */
export class RateLimitError extends HttpError {
  constructor(
    message: string,
    /** Undefined when retrying cannot help (the request alone exceeds the limit). */
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(429, "rate_limit_exceeded", message);
    this.name = "RateLimitError";
  }
}

export interface TenantsBackends {
  limiter: RateLimiter;
  ledger: Ledger;
  /** Resolves true once the shared store is connected (in-memory: at once). */
  ready?: (timeoutMs: number) => Promise<boolean>;
  close?: () => Promise<void>;
}

export const rateWindowMs = 60_000;

interface KeyOwner {
  hash: Buffer;
  tenant: Tenant;
}

export class Tenants {
  readonly ledger: Ledger;
  readonly anonymous: Tenant;
  readonly #authEnabled: boolean;
  readonly #keyOwners: KeyOwner[];
  readonly #adminHashes: Buffer[];
  readonly #byId: Map<string, Tenant>;
  readonly #backends: TenantsBackends;

  constructor(config: TenantsConfig, backends: TenantsBackends) {
    this.#authEnabled = config.auth;
    this.#backends = backends;
    this.ledger = backends.ledger;
    this.anonymous = Object.freeze({ id: anonymousTenantId, name: "anonymous (auth off)", ...config.anonymous });
    this.#byId = new Map([[this.anonymous.id, this.anonymous]]);
    this.#keyOwners = [];
    this.#adminHashes = config.adminKeyHashes.map((hash) => Buffer.from(hash, "hex"));
    for (const { keyHashes, ...rest } of config.tenants) {
      const tenant: Tenant = Object.freeze(rest);
      this.#byId.set(tenant.id, tenant);
      for (const hash of keyHashes) this.#keyOwners.push({ hash: Buffer.from(hash, "hex"), tenant });
    }
  }

  get authEnabled(): boolean {
    return this.#authEnabled;
  }

  byId(id: string): Tenant | undefined {
    return this.#byId.get(id);
  }

  /**
   * The tenant owning the bearer key in `authorization`. Auth on: throws HttpError 401
   * `invalid_api_key` for a missing, malformed or unknown key. Auth off: a known key still
   * names its tenant; anything else (no header, the dummy keys SDKs insist on) is anonymous.
   */
  authenticate(authorization: string | string[] | undefined): Tenant {
    // The common case of a server without auth: no header, no exception to build.
    if (!this.#authEnabled && (authorization === undefined || authorization === "")) return this.anonymous;
    let key: string;
    try {
      key = parseBearer(authorization);
    } catch (e) {
      if (this.#authEnabled) throw e;
      return this.anonymous;
    }
    const owner = this.#ownerOf(key);
    if (owner) return owner;
    if (!this.#authEnabled) return this.anonymous;
    throw new HttpError(
      401,
      "invalid_api_key",
      "invalid API key: it matches no tenant; check the key or ask an admin for a new one",
    );
  }

  /**
   * Admin routes (/metrics: every tenant's spend). Auth off: open, like every route. Auth on:
   * the bearer key must be one of `adminKeyHashes` (401 without a key, 403 for any other key).
   */
  authenticateAdmin(authorization: string | string[] | undefined): void {
    if (!this.#authEnabled) return;
    const key = parseBearer(authorization);
    const hash = Buffer.from(hashApiKey(key), "hex");
    let admin = false;
    for (const h of this.#adminHashes) if (timingSafeEqual(h, hash)) admin = true;
    if (admin) return;
    throw new HttpError(
      403,
      "admin_key_required",
      this.#adminHashes.length === 0
        ? "this route needs an admin key and none is configured: add the hash of one to tenants.adminKeyHashes (aigc keys create --admin)"
        : "this route needs an admin key; a tenant's key is not one",
    );
  }

  /** Compares against every stored hash without stopping early, in constant time per hash. */
  #ownerOf(key: string): Tenant | undefined {
    const hash = Buffer.from(hashApiKey(key), "hex");
    let found: Tenant | undefined;
    for (const owner of this.#keyOwners) if (timingSafeEqual(owner.hash, hash) && !found) found = owner.tenant;
    return found;
  }

  /**
   * Counts one request and `estimatedTokens` against the tenant's per-minute limits (all or
   * nothing); throws RateLimitError 429 when either would be exceeded.
   */
  async checkRate(tenant: Tenant, estimatedTokens: number): Promise<void> {
    if (!(estimatedTokens >= 0 && Number.isFinite(estimatedTokens)))
      throw new TypeError(`estimatedTokens must be a finite number >= 0, got ${estimatedTokens}`);
    const limits = tenant.rateLimit;
    const counters: RateCounter[] = [];
    if (limits?.requestsPerMinute) counters.push({ name: "requests", limit: limits.requestsPerMinute, amount: 1 });
    if (limits?.tokensPerMinute)
      counters.push({ name: "tokens", limit: limits.tokensPerMinute, amount: Math.ceil(estimatedTokens) });
    if (counters.length === 0) return;
    const decision = await this.#backends.limiter.consume(tenant.id, counters, rateWindowMs);
    if (decision.allowed) return;
    const limit = decision.deniedBy === "tokens" ? `${limits?.tokensPerMinute} tokens` : `${limits?.requestsPerMinute} requests`;
    if (!Number.isFinite(decision.retryAfterMs))
      throw new RateLimitError(
        `this request's estimated ${Math.ceil(estimatedTokens)} tokens exceed the limit of ${limit} per minute on its own; send a shorter request or lower max_tokens`,
        undefined,
      );
    const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    throw new RateLimitError(
      `rate limit of ${limit} per minute reached for tenant "${tenant.id}"; retry after ${retryAfterSeconds} s`,
      retryAfterSeconds,
    );
  }

  /**
   * Sets the most this request can cost aside against the tenant's budget, atomically (see
   * Ledger.reserve); undefined for a tenant without a budget. Throws HttpError 402
   * `budget_exceeded` when the spend has reached the budget or the request could overrun it.
   * Pass the hold to the ledger row that records the request, which releases it.
   */
  async reserveBudget(tenant: Tenant, maxCostUsd: number): Promise<BudgetHold | undefined> {
    if (!(maxCostUsd >= 0 && Number.isFinite(maxCostUsd)))
      throw new TypeError(`maxCostUsd must be a finite number >= 0, got ${maxCostUsd}`);
    const budget = tenant.budgetUsd;
    if (budget === undefined) return undefined;
    const { hold, spentUsd, heldUsd } = await this.ledger.reserve(tenant.id, maxCostUsd, budget);
    if (hold) return hold;
    if (spentUsd >= budget)
      throw new HttpError(
        402,
        "budget_exceeded",
        `budget of $${budget} reached for tenant "${tenant.id}" ($${spentUsd.toFixed(4)} spent); ask an admin to raise budgetUsd`,
      );
    throw new HttpError(
      402,
      "budget_exceeded",
      `this request could cost up to $${maxCostUsd.toFixed(4)} and tenant "${tenant.id}" has $${Math.max(0, budget - spentUsd - heldUsd).toFixed(4)} of its $${budget} budget left ($${heldUsd.toFixed(4)} held by requests in flight); lower max_tokens, retry later, or ask an admin to raise budgetUsd`,
    );
  }

  /** Resolves true once the shared store (if any) is connected; false after `timeoutMs`. */
  ready(timeoutMs = 2000): Promise<boolean> {
    return this.#backends.ready ? this.#backends.ready(timeoutMs) : Promise.resolve(true);
  }

  /** Redis failures of the limiter and the ledger, and ledger rows waiting for Redis. */
  stats(): { limiterErrors: number; ledgerErrors: number; pendingLedgerRows: number } {
    const ledger = this.ledger.stats();
    return { limiterErrors: this.#backends.limiter.errors(), ledgerErrors: ledger.errors, pendingLedgerRows: ledger.pending };
  }

  async close(): Promise<void> {
    await this.#backends.close?.();
  }
}
