// The cost ledger in Redis, shared by replicas. Each row is written by one Lua script —
// spend (INCRBYFLOAT), per-tenant and global row lists, and a dedupe key for the row's id —
// so a row is either wholly recorded or not at all, and a retried row counts once.
//
// While Redis is unreachable no row is lost: rows wait in order in a local queue (bounded;
// the oldest are dropped, and logged, past `maxPendingRows`) and are written when Redis is
// back. Meanwhile `spent` answers the last total read from Redis plus the queued rows, so
// budgets keep holding approximately (other replicas' spend in that time is not seen).

import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { ServeLogger } from "../cache/index.js";
import {
  type BudgetHold,
  defaultEntriesLimit,
  holdTtlMs,
  type Ledger,
  type LedgerEntry,
  type LedgerRow,
  LocalHolds,
  ledgerEntrySchema,
  type Reservation,
  toLedgerRow,
} from "./ledger.js";
import { LuaScript } from "./rateLimiter.js";

// KEYS: dedupe, spend, tenant rows, all rows, hold amounts, hold expiries.
// ARGV: cost, row JSON, rows kept, dedupe TTL s, hold id ("" for none).
// Returns the tenant's spend after the row, as a string.
const recordRowLua = `
if ARGV[5] ~= '' then
  redis.call('HDEL', KEYS[5], ARGV[5])
  redis.call('ZREM', KEYS[6], ARGV[5])
end
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

// KEYS: spend, hold amounts (hash id -> USD), hold expiries (zset id -> epoch ms).
// ARGV: hold id, amount, budget, now ms, hold TTL ms. Expired holds (a replica died) are
// dropped first. Returns { granted 0/1, spend, held } as strings.
const reserveLua = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
for _, id in ipairs(expired) do redis.call('HDEL', KEYS[2], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local held = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do held = held + tonumber(v) end
local amount = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
if spent >= budget or spent + held + amount > budget then
  return {0, tostring(spent), tostring(held)}
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], tonumber(ARGV[4]) + tonumber(ARGV[5]), ARGV[1])
return {1, tostring(spent), tostring(held)}
`;

// KEYS: hold amounts, hold expiries. ARGV: hold id.
const releaseLua = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
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
  readonly #reserveScript: LuaScript;
  readonly #releaseScript: LuaScript;
  readonly #lastKnownSpend = new Map<string, number>();
  /** Holds taken while Redis was unreachable (checked against the last known spend). */
  readonly #localHolds = new LocalHolds();
  /** Rows waiting for Redis, each with the Redis hold it releases when written. */
  #pending: (LedgerRow & { holdId?: string })[] = [];
  #flushing: Promise<void> | undefined;
  #errors = 0;

  constructor(redis: Redis, options: RedisLedgerOptions) {
    this.#redis = redis;
    this.#options = options;
    this.#script = new LuaScript(redis, recordRowLua);
    this.#reserveScript = new LuaScript(redis, reserveLua);
    this.#releaseScript = new LuaScript(redis, releaseLua);
    redis.on("ready", () => void this.flush());
  }

  async record(entry: LedgerEntry, hold?: BudgetHold): Promise<void> {
    const row: LedgerRow & { holdId?: string } = toLedgerRow(entry);
    // A hold taken in Redis is released by the row's own script; a local one right here.
    if (hold && !this.#localHolds.drop(hold)) row.holdId = hold.id;
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

  async #write(pending: LedgerRow & { holdId?: string }): Promise<void> {
    const { holdId, ...row } = pending;
    const p = this.#options.prefix;
    const keys = [
      `${p}ledger-id:${row.id}`,
      `${p}spend:${row.tenant}`,
      `${p}ledger:${row.tenant}`,
      `${p}ledger`,
      ...this.#holdKeys(row.tenant),
    ];
    const total = await this.#script.run(keys, [
      String(row.costUsd),
      JSON.stringify(row),
      this.#options.maxRowsKept,
      dedupeTtlSeconds,
      holdId ?? "",
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

  #holdKeys(tenant: string): [string, string] {
    const p = this.#options.prefix;
    return [`${p}holds:${tenant}`, `${p}hold-expiry:${tenant}`];
  }

  async reserve(tenant: string, amountUsd: number, budgetUsd: number): Promise<Reservation> {
    const id = randomUUID();
    try {
      const [granted, spent, held] = (await this.#reserveScript.run(
        [`${this.#options.prefix}spend:${tenant}`, ...this.#holdKeys(tenant)],
        [id, String(amountUsd), String(budgetUsd), Date.now(), holdTtlMs],
      )) as [number, string, string];
      const queued = this.#queuedSpend(tenant);
      this.#lastKnownSpend.set(tenant, Number(spent));
      // Rows queued here are not in Redis's total yet: a hold granted there may still not fit.
      const spentUsd = Number(spent) + queued;
      const heldUsd = Number(held) + this.#localHolds.held(tenant);
      const hold = { id, tenant, amountUsd };
      if (granted === 1 && (queued === 0 || spentUsd + heldUsd + amountUsd <= budgetUsd)) return { hold, spentUsd, heldUsd };
      if (granted === 1) await this.release(hold);
      return { hold: undefined, spentUsd, heldUsd };
    } catch {
      this.#errors++;
      const spentUsd = (this.#lastKnownSpend.get(tenant) ?? 0) + this.#queuedSpend(tenant);
      return this.#localHolds.take(tenant, amountUsd, budgetUsd, spentUsd);
    }
  }

  async release(hold: BudgetHold): Promise<void> {
    if (this.#localHolds.drop(hold)) return;
    try {
      await this.#releaseScript.run(this.#holdKeys(hold.tenant), [hold.id]);
    } catch {
      this.#errors++; // the hold expires by itself after holdTtlMs
    }
  }

  #queuedSpend(tenant: string): number {
    return this.#pending.reduce((sum, row) => (row.tenant === tenant ? sum + row.costUsd : sum), 0);
  }

  async spent(tenant: string): Promise<number> {
    const queued = this.#queuedSpend(tenant);
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
    const queued = this.#pending
      .filter((row) => tenant === undefined || row.tenant === tenant)
      .map(({ holdId: _holdId, ...row }) => row)
      .reverse();
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
