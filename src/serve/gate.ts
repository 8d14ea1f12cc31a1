// What the request pipeline needs from a serving process: tenants (keys, limits, budgets,
// ledger), the audit log, the response cache, the metrics, and the price of each provider.
// A server without models (only apps, only encrypted inference) still has one.

import { makeCache, type ResponseCache, type ServeLogger } from "./cache/index.js";
import { type ServerConfig, serverConfigSchema } from "./config.js";
import { type MetricsSources, ServerMetrics } from "./metrics.js";
import type { ProviderPrice } from "./providers/index.js";
import { type AuditLog, JsonlAuditLog, MemoryAuditLog } from "./router/index.js";
import { makeTenants, type Tenants } from "./tenants/index.js";

export interface Gate {
  readonly config: ServerConfig;
  readonly tenants: Tenants;
  readonly audit: AuditLog;
  readonly cache: ResponseCache;
  readonly metrics: ServerMetrics;
  /** The price of a provider by name (for the ledger); undefined for none. */
  priceOf(provider: string): ProviderPrice | undefined;
  /** A model's revision for cache keys (a LoRA adapter's digest); undefined for most models. */
  modelRevision(model: string): string | undefined;
  close(): Promise<void>;
}

export const quietLogger: ServeLogger = { warn: (message) => console.warn(message), info: () => {} };

export function createGate(
  config: ServerConfig = serverConfigSchema.parse({}),
  options: {
    logger?: ServeLogger;
    batchers?: MetricsSources["batchers"];
    priceOf?: (provider: string) => ProviderPrice | undefined;
    modelRevision?: (model: string) => string | undefined;
  } = {},
): Gate {
  const logger = options.logger ?? quietLogger;
  const audit: AuditLog = config.router.auditLog ? new JsonlAuditLog(config.router.auditLog) : new MemoryAuditLog();
  const cache = makeCache(config.cache, logger);
  const tenants = makeTenants(config.tenants, logger);
  const metrics = new ServerMetrics({ batchers: options.batchers ?? (() => ({})), cache: () => cache.stats() });
  return {
    config,
    tenants,
    audit,
    cache,
    metrics,
    priceOf: options.priceOf ?? (() => undefined),
    modelRevision: options.modelRevision ?? (() => undefined),
    async close() {
      await Promise.allSettled([audit.close(), cache.close(), tenants.close()]);
    },
  };
}
