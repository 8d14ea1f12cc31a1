// Builds Tenants from options: Redis-backed (limits and budgets shared by replicas) when
// `redisUrl` is set, in-process otherwise.

import type { z } from "zod";
import { closeRedis, connectRedis, type ServeLogger, waitForRedis } from "../cache/index.js";
import { tenantsConfigSchema } from "./config.js";
import { MemoryLedger } from "./ledger.js";
import { MemoryRateLimiter, RedisRateLimiter } from "./rateLimiter.js";
import { RedisLedger } from "./redisLedger.js";
import { Tenants } from "./tenants.js";

/** `config` may be partial: it is parsed with the schema's defaults (throws ZodError when invalid). */
export function makeTenants(config: z.input<typeof tenantsConfigSchema> = {}, logger: ServeLogger = console): Tenants {
  const c = tenantsConfigSchema.parse(config);
  if (!c.redisUrl) return new Tenants(c, { limiter: new MemoryRateLimiter(), ledger: new MemoryLedger(c.ledgerRowsKept) });
  const redis = connectRedis({
    url: c.redisUrl,
    commandTimeoutMs: c.timeoutMs,
    purpose: "tenants (rate limits, ledger)",
    logger,
  });
  const ledger = new RedisLedger(redis, {
    prefix: c.redisPrefix,
    maxRowsKept: c.ledgerRowsKept,
    maxPendingRows: c.ledgerMaxPendingRows,
    logger,
  });
  return new Tenants(c, {
    limiter: new RedisRateLimiter(redis, { prefix: c.redisPrefix }),
    ledger,
    ready: (timeoutMs) => waitForRedis(redis, timeoutMs),
    close: async () => {
      await ledger.flush();
      const unsent = ledger.stats().pending;
      if (unsent > 0) logger.warn(`cost ledger: closing with ${unsent} rows not written to Redis (it is down); they are lost`);
      await closeRedis(redis);
    },
  });
}
