// The one interface both response stores implement, the entry they hold, and the helpers
// they share: serialising an entry whole (so a store only ever holds complete entries) and
// validating what comes back.

import { z } from "zod";

export interface CachedEntry {
  /** The whole JSON response body, as a non-streamed request gets it. */
  body: unknown;
  /** The SSE `data:` payloads in order, to replay a streamed response. */
  chunks?: string[];
  /** Epoch milliseconds when the response was produced. */
  createdAt: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** Store failures (Redis down, timeouts, unreadable entries, bodies that are not JSON). */
  errors: number;
  /** Entries stored. */
  sets: number;
  /** Entries not stored because they were larger than `maxEntryBytes`. */
  skipped: number;
}

/** `get` and `set` never throw: a broken store degrades to misses, the request goes on. */
export interface ResponseCache {
  get(key: string): Promise<CachedEntry | undefined>;
  /** Stores the whole entry or nothing; entries over the size limit are skipped. */
  set(key: string, entry: CachedEntry, ttlSeconds: number): Promise<void>;
  stats(): CacheStats;
  close(): Promise<void>;
}

/** What a store writes to its log: pino's and the console's `warn`/`info` both fit. */
export interface ServeLogger {
  warn(message: string): void;
  info(message: string): void;
}

export const cachedEntrySchema = z.object({
  body: z.unknown(),
  chunks: z.array(z.string()).optional(),
  createdAt: z.number(),
});

/** JSON text of a validated entry; throws when the entry is malformed or not JSON-serialisable. */
export function serialiseEntry(entry: CachedEntry): string {
  const checked = cachedEntrySchema.parse(entry);
  if (checked.body === undefined) throw new TypeError("a cached entry needs a JSON body; got undefined");
  return JSON.stringify(checked);
}

/** The entry in `text`, or undefined when it is not a well-formed entry. */
export function parseEntry(text: string): CachedEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const checked = cachedEntrySchema.safeParse(value);
  return checked.success ? checked.data : undefined;
}

export const emptyStats = (): CacheStats => ({ hits: 0, misses: 0, errors: 0, sets: 0, skipped: 0 });
