// The cache's options, validated at the boundary, with every default in one place, and the
// factory that picks the store: Redis when `redisUrl` is set (shared by all replicas),
// otherwise an in-process LRU.

import { z } from "zod";
import { MemoryCache } from "./memoryCache.js";
import { RedisCache } from "./redisCache.js";
import type { ResponseCache, ServeLogger } from "./responseCache.js";

const mebibyte = 1024 * 1024;

export const cacheConfigSchema = z.strictObject({
  /** false: no response is cached or served from the cache (e.g. a gateway in front of a caching upstream). */
  enabled: z.boolean().default(true),
  /** e.g. redis://localhost:6379/0; omit for the in-process cache. */
  redisUrl: z.string().startsWith("redis", "redisUrl must be a redis:// or rediss:// URL").optional(),
  /** Redis key prefix, so several deployments can share one Redis. */
  keyPrefix: z.string().default("aigc:cache:"),
  /** How long a response stays servable, in seconds. */
  ttlSeconds: z.number().positive().default(3600),
  /** In-process cache: most entries held. */
  maxEntries: z.number().int().positive().default(10_000),
  /** In-process cache: most bytes held (UTF-8 JSON of the entries). */
  maxBytes: z
    .number()
    .int()
    .positive()
    .default(64 * mebibyte),
  /** Larger responses are not cached. */
  maxEntryBytes: z.number().int().positive().default(mebibyte),
  /** Redis command timeout: the most a request waits on a hung Redis. */
  timeoutMs: z.number().int().positive().default(50),
});

export type CacheConfig = z.infer<typeof cacheConfigSchema>;

/** Builds the configured store. `config` may be partial: it is parsed with the schema's defaults. */
export function makeCache(config: z.input<typeof cacheConfigSchema> = {}, logger: ServeLogger = console): ResponseCache {
  const c = cacheConfigSchema.parse(config);
  if (c.redisUrl)
    return new RedisCache({
      url: c.redisUrl,
      keyPrefix: c.keyPrefix,
      maxEntryBytes: c.maxEntryBytes,
      timeoutMs: c.timeoutMs,
      logger,
    });
  return new MemoryCache({ maxEntries: c.maxEntries, maxBytes: c.maxBytes, maxEntryBytes: c.maxEntryBytes });
}
