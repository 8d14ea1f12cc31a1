// Response cache: keys namespaced by tenant, the cacheability rule, and two stores (in-process
// LRU, Redis) behind one never-throwing interface.

export {
  type CacheabilityOptions,
  type CacheEndpoint,
  type CacheKeyParts,
  cacheForcedByHeader,
  cacheKey,
  canonicalJson,
  isCacheable,
  maxCanonicalDepth,
  normaliseRequest,
  outputNeutralFields,
} from "./cacheKey.js";
export { type CacheConfig, cacheConfigSchema, makeCache } from "./config.js";
export { MemoryCache, type MemoryCacheOptions } from "./memoryCache.js";
export { RedisCache, type RedisCacheOptions } from "./redisCache.js";
export { closeRedis, connectRedis, type RedisConnectionOptions, waitForRedis } from "./redisConnection.js";
export type { CachedEntry, CacheStats, ResponseCache, ServeLogger } from "./responseCache.js";
