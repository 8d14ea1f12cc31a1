// In-process response cache: an LRU bounded by entry count and by bytes, with a TTL per
// entry. Entries are kept as their JSON text: the byte bound is exact, and every `get`
// hands out a fresh copy, so a caller mutating a hit (or the entry it stored) can never
// change what the next request receives.

import { LRUCache } from "lru-cache";
import {
  type CachedEntry,
  type CacheStats,
  emptyStats,
  parseEntry,
  type ResponseCache,
  serialiseEntry,
} from "./responseCache.js";

export interface MemoryCacheOptions {
  maxEntries: number;
  /** Bound on the summed UTF-8 size of all stored entries. */
  maxBytes: number;
  /** Larger entries are skipped (counted in `stats().skipped`). */
  maxEntryBytes: number;
}

export class MemoryCache implements ResponseCache {
  readonly #entries: LRUCache<string, string>;
  readonly #maxEntryBytes: number;
  readonly #stats = emptyStats();

  constructor(options: MemoryCacheOptions) {
    this.#maxEntryBytes = Math.min(options.maxEntryBytes, options.maxBytes);
    this.#entries = new LRUCache<string, string>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (text) => Buffer.byteLength(text),
    });
  }

  async get(key: string): Promise<CachedEntry | undefined> {
    const text = this.#entries.get(key);
    const entry = text === undefined ? undefined : parseEntry(text);
    if (entry) this.#stats.hits++;
    else this.#stats.misses++;
    return entry;
  }

  async set(key: string, entry: CachedEntry, ttlSeconds: number): Promise<void> {
    let text: string;
    try {
      text = serialiseEntry(entry);
    } catch {
      this.#stats.errors++;
      return;
    }
    if (Buffer.byteLength(text) > this.#maxEntryBytes) {
      this.#stats.skipped++;
      return;
    }
    if (!(ttlSeconds > 0)) return;
    this.#entries.set(key, text, { ttl: Math.ceil(ttlSeconds * 1000) });
    this.#stats.sets++;
  }

  stats(): CacheStats {
    return { ...this.#stats };
  }

  /** Number of entries held now (expired ones may linger until touched). */
  get size(): number {
    return this.#entries.size;
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }
}
