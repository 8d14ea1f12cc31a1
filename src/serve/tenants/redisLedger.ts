// The cost ledger in Redis, shared by replicas. Each row is written by one Lua script —
// spend (INCRBYFLOAT), per-tenant and global row lists, and a dedupe key for the row's id —
// so a row is either wholly recorded or not at all, and a retried row counts once.
//
// While Redis is unreachable no row is lost: rows wait in order in a local queue (bounded;
// the oldest are dropped, and logged, past `maxPendingRows`) and are written when Redis is
// back. Meanwhile `spent` answers the last total read from Redis plus the queued rows, so
// budgets keep holding approximately (other replicas' spend in that time is not seen).

import type { Redis } from "ioredis";
import { z } from "zod";
import type { ServeLogger } from "../cache/index.js";
import { defaultEntriesLimit, type Ledger, type LedgerEntry, type LedgerRow, ledgerEntrySchema, toLedgerRow } from "./ledger.js";
import { LuaScript } from "./rateLimiter.js";

// KEYS: dedupe, spend, tenant rows, all rows. ARGV: cost, row JSON, rows kept, dedupe TTL s.
// Returns the tenant's spend after the row, as a string.
const recordRowLua = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[4]) then
  local total = redis.call('INCRBYFLOAT', KEYS[2], ARGV[1])
  redis.call('LPUSH', KEYS[3], ARGV[2])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1)
  redis.call('LPUSH', KEYS[4], ARGV[2])
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[3]) - 1)
  return total
end
return redis.call('GET', KEYS[2]) or '0'
`;

/** How long a row id is remembered: a row retried later than this would count twice. */
const dedupeTtlSeconds = 24 * 3600;

const ledgerRowSchema = ledgerEntrySchema.extend({ id: z.string() });

export interface RedisLedgerOptions {
  /** Key prefix, e.g. "aigc:"; spend at `<prefix>spend:<tenant>`, rows at `<prefix>ledger[:<tenant>]`. */
  prefix: string;
  /** Rows kept per tenant and overall (spend totals are kept whole). */
  maxRowsKept: number;
  /** Most rows queued while Redis is down. */
  maxPendingRows: number;
  logger: ServeLogger;
}

export class RedisLedger implements Ledger {
  readonly #redis: Redis;
  readonly #options: RedisLedgerOptions;
  readonly #script: LuaScript;
  readonly #lastKnownSpend = new Map<string, number>();
  #pending: LedgerRow[] = [];
  #flushing: Promise<void> | undefined;
  #errors = 0;

  constructor(redis: Redis, options: RedisLedgerOptions) {
    this.#redis = redis;
    this.#options = options;
    this.#script = new LuaScript(redis, recordRowLua);
    redis.on("ready", () => void this.flush());
  }

  async record(entry: LedgerEntry): Promise<void> {
    const row = toLedgerRow(entry);
    await this.flush();
    // Rows still queued: Redis is down; queue behind them to keep the order.
    if (this.#pending.length > 0) return this.#queue(row);
    try {
      await this.#write(row);
    } catch {
      this.#errors++;
      this.#queue(row);
    }
  }

  /** Writes queued rows, oldest first, until one fails; one flush at a time. */
  flush(): Promise<void> {
    if (this.#pending.length === 0) return Promise.resolve();
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      try {
        await this.#write(this.#pending[0]);
      } catch {
        this.#errors++;
        return;
      }
      this.#pending.shift();
    }
    this.#options.logger.info("cost ledger: rows queued while Redis was down are written");
  }

  async #write(row: LedgerRow): Promise<void> {
    const p = this.#options.prefix;
    const keys = [`${p}ledger-id:${row.id}`, `${p}spend:${row.tenant}`, `${p}ledger:${row.tenant}`, `${p}ledger`];
    const total = await this.#script.run(keys, [
      String(row.costUsd),
      JSON.stringify(row),
      this.#options.maxRowsKept,
      dedupeTtlSeconds,
    ]);
    this.#lastKnownSpend.set(row.tenant, Number(total));
  }

  #queue(row: LedgerRow): void {
    this.#pending.push(row);
    if (this.#pending.length > this.#options.maxPendingRows) {
      const dropped = this.#pending.shift()!;
      this.#options.logger.warn(
        `cost ledger: Redis down and ${this.#options.maxPendingRows} rows queued; dropped the oldest (tenant ${dropped.tenant}, $${dropped.costUsd})`,
      );
    }
  }

  async spent(tenant: string): Promise<number> {
    const queued = this.#pending.reduce((sum, row) => (row.tenant === tenant ? sum + row.costUsd : sum), 0);
    try {
      const total = Number((await this.#redis.get(`${this.#options.prefix}spend:${tenant}`)) ?? 0);
      this.#lastKnownSpend.set(tenant, total);
      return total + queued;
    } catch {
      this.#errors++;
      return (this.#lastKnownSpend.get(tenant) ?? 0) + queued;
    }
  }

  async entries(tenant?: string, limit = defaultEntriesLimit): Promise<LedgerRow[]> {
    if (limit <= 0) return [];
    const queued = this.#pending.filter((row) => tenant === undefined || row.tenant === tenant).reverse();
    if (queued.length >= limit) return queued.slice(0, limit);
    const key = tenant === undefined ? `${this.#options.prefix}ledger` : `${this.#options.prefix}ledger:${tenant}`;
    let texts: string[];
    try {
      texts = await this.#redis.lrange(key, 0, limit - queued.length - 1);
    } catch {
      this.#errors++;
      return queued;
    }
    const stored = texts.flatMap((text) => {
      const row = ledgerRowSchema.safeParse(safeJsonParse(text));
      return row.success ? [row.data] : [];
    });
    return [...queued, ...stored];
  }

  stats(): { errors: number; pending: number } {
    return { errors: this.#errors, pending: this.#pending.length };
  }
}

function safeJsonParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
