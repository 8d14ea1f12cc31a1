// Tenants: API keys (only hashes stored), tenant config, authentication, per-minute rate
// limits and budgets, and the cost ledger — in memory or in Redis shared by replicas.
//
// When Redis is down nothing crashes and requests keep flowing: rate limits fall back to
// per-replica local counters (each replica enforces the limit on its own traffic), ledger
// rows queue locally and are written when Redis is back, and budgets are checked against
// the last spend read from Redis plus the queued rows. The outage and the recovery are
// logged once each.

export { apiKeyPrefix, hashApiKey, newApiKey, parseBearer } from "./apiKeys.js";
export {
  anonymousTenantId,
  type RateLimit,
  rateLimitSchema,
  type TenantConfig,
  type TenantsConfig,
  tenantConfigSchema,
  tenantsConfigSchema,
} from "./config.js";
export {
  type BudgetHold,
  holdTtlMs,
  type Ledger,
  type LedgerEntry,
  type LedgerRow,
  ledgerEntrySchema,
  MemoryLedger,
  type Reservation,
} from "./ledger.js";
export { makeTenants } from "./makeTenants.js";
export {
  MemoryRateLimiter,
  type RateCounter,
  type RateDecision,
  type RateLimiter,
  RedisRateLimiter,
  type RedisRateLimiterOptions,
} from "./rateLimiter.js";
export { RedisLedger, type RedisLedgerOptions } from "./redisLedger.js";
export { rollWindow, type WindowCounter, waitMs } from "./slidingWindow.js";
export { RateLimitError, rateWindowMs, type Tenant, Tenants, type TenantsBackends } from "./tenants.js";
