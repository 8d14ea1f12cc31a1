// Response cache in Redis, shared by every replica: one `SET key json PX ttl` per entry
// (a single command, so a reader sees the whole entry or none of it). When Redis is down,
// `get` resolves undefined and `set` resolves without storing, both within milliseconds
// (see redisConnection.ts), and each failure is counted in `stats().errors`.

import type { Redis } from "ioredis";
import { closeRedis, connectRedis, waitForRedis } from "./redisConnection.js";
import {
  type CachedEntry,
  type CacheStats,
  emptyStats,
  parseEntry,
  type ResponseCache,
  type ServeLogger,
  serialiseEntry,
} from "./responseCache.js";

export interface RedisCacheOptions {
  url: string;
  /** Prepended to every key, so several deployments can share one Redis. */
  keyPrefix: string;
  /** Larger entries are skipped (counted in `stats().skipped`). */
  maxEntryBytes: number;
  /** Per-command timeout in ms. */
  timeoutMs: number;
  logger: ServeLogger;
}

export class RedisCache implements ResponseCache {
  readonly #redis: Redis;
  readonly #options: RedisCacheOptions;
  readonly #stats = emptyStats();

  constructor(options: RedisCacheOptions) {
    this.#options = options;
    this.#redis = connectRedis({
      url: options.url,
      commandTimeoutMs: options.timeoutMs,
      purpose: "response cache",
      logger: options.logger,
    });
  }

  /** Resolves true once connected (false after `timeoutMs`); the cache works either way. */
  ready(timeoutMs = 2000): Promise<boolean> {
    return waitForRedis(this.#redis, timeoutMs);
  }

  async get(key: string): Promise<CachedEntry | undefined> {
    let text: string | null;
    try {
      text = await this.#redis.get(this.#options.keyPrefix + key);
    } catch {
      this.#stats.errors++;
      this.#stats.misses++;
      return undefined;
    }
    const entry = text === null ? undefined : parseEntry(text);
    if (text !== null && !entry) this.#stats.errors++;
    if (entry) this.#stats.hits++;
    else this.#stats.misses++;
    return entry;
  }

  async set(key: string, entry: CachedEntry, ttlSeconds: number): Promise<void> {
    try {
      const text = serialiseEntry(entry);
      if (Buffer.byteLength(text) > this.#options.maxEntryBytes) {
        this.#stats.skipped++;
        return;
      }
      if (!(ttlSeconds > 0)) return;
      await this.#redis.set(this.#options.keyPrefix + key, text, "PX", Math.ceil(ttlSeconds * 1000));
      this.#stats.sets++;
    } catch {
      this.#stats.errors++;
    }
  }

  stats(): CacheStats {
    return { ...this.#stats };
  }

  close(): Promise<void> {
    return closeRedis(this.#redis);
  }
}
