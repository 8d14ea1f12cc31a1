// Everything a serving process holds, built from one validated config: the local engine
// (private zone), remote OpenAI-compatible providers, the hybrid router and its audit log,
// the response cache, tenants with their ledger, and the metrics. Routes only translate
// HTTP to calls on this object.

import { makeCache, type ResponseCache, type ServeLogger } from "./cache/index.js";
import type { ServerConfig } from "./config.js";
import { LocalLmProvider } from "./local/lmProvider.js";
import { ServerMetrics } from "./metrics.js";
import { OpenAiCompatibleProvider, type Provider } from "./providers/index.js";
import { type AuditLog, HybridRouter, JsonlAuditLog, MemoryAuditLog } from "./router/index.js";
import { makeTenants, type Tenants } from "./tenants/index.js";

export interface Platform {
  readonly config: ServerConfig;
  readonly local: LocalLmProvider | undefined;
  readonly router: HybridRouter;
  readonly audit: AuditLog;
  readonly cache: ResponseCache;
  readonly tenants: Tenants;
  readonly metrics: ServerMetrics;
  close(): Promise<void>;
}

const quietLogger: ServeLogger = { warn: (m) => console.warn(m), info: () => {} };

export async function createPlatform(
  config: ServerConfig,
  o: { threads?: number; logger?: ServeLogger; extraProviders?: readonly Provider[] } = {},
): Promise<Platform> {
  const logger = o.logger ?? quietLogger;
  const localModels = Object.entries(config.models.local).map(([name, m]) => ({ name, dir: m.dir, int8: m.int8 }));
  const local =
    localModels.length > 0
      ? await LocalLmProvider.create({
          models: localModels,
          price: { inputPerMTok: config.pricing.localPerMTok, outputPerMTok: config.pricing.localPerMTok },
          batching: config.batching,
          threads: o.threads,
        })
      : undefined;
  const remote = config.providers.map((p) => new OpenAiCompatibleProvider(p));
  // Preference order within each zone: local engine first, then remote providers as configured.
  const providers: Provider[] = [...(local ? [local] : []), ...(o.extraProviders ?? []), ...remote];
  const audit: AuditLog = config.router.auditLog ? new JsonlAuditLog(config.router.auditLog) : new MemoryAuditLog();
  const router = new HybridRouter({ providers, config: config.router, audit });
  const cache = makeCache(config.cache, logger);
  const tenants = makeTenants(config.tenants, logger);
  const metrics = new ServerMetrics({
    batchers: () => local?.batcherLoads() ?? {},
    cache: () => cache.stats(),
  });
  return {
    config,
    local,
    router,
    audit,
    cache,
    tenants,
    metrics,
    async close() {
      await Promise.allSettled([local?.close(), audit.close(), cache.close(), tenants.close()]);
    },
  };
}
