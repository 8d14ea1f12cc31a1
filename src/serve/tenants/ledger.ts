// The cost ledger: one row per served request (cached ones too, at their cost, usually 0),
// a running spend per tenant, and the latest rows for inspection. The in-memory ledger is
// here; the Redis one, shared by replicas, is in redisLedger.ts.

import { randomUUID } from "node:crypto";
import { z } from "zod";

export const ledgerEntrySchema = z.object({
  tenant: z.string().min(1),
  model: z.string(),
  /** Which provider answered, e.g. "local" or a remote pool's name. */
  provider: z.string(),
  /** Where it ran, e.g. "private" or "public". */
  zone: z.string(),
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  costUsd: z.number().nonnegative(),
  /** Served from the response cache. */
  cached: z.boolean(),
  /** Epoch milliseconds. */
  at: z.number(),
});

export type LedgerEntry = z.infer<typeof ledgerEntrySchema>;

/** A recorded entry; `id` makes a retried write count once. */
export type LedgerRow = LedgerEntry & { id: string };

export interface Ledger {
  /** Records the entry and adds its cost to the tenant's spend. Throws TypeError on an invalid entry only. */
  record(entry: LedgerEntry): Promise<void>;
  /** The tenant's total spend in USD. */
  spent(tenant: string): Promise<number>;
  /** The latest rows, newest first, of one tenant or of all (default limit 100). */
  entries(tenant?: string, limit?: number): Promise<LedgerRow[]>;
  /** Redis failures so far and rows waiting for Redis (0 for the in-memory ledger). */
  stats(): { errors: number; pending: number };
}

export const defaultEntriesLimit = 100;

/** Validates an entry and gives it an id; the one place both ledgers turn input into a row. */
export function toLedgerRow(entry: LedgerEntry): LedgerRow {
  const checked = ledgerEntrySchema.safeParse(entry);
  if (!checked.success) throw new TypeError(`invalid ledger entry: ${z.prettifyError(checked.error)}`);
  return { ...checked.data, id: randomUUID() };
}

export class MemoryLedger implements Ledger {
  readonly #spend = new Map<string, number>();
  readonly #rows = new RowLog();
  readonly #rowsByTenant = new Map<string, RowLog>();
  readonly #maxRowsKept: number;

  /** `maxRowsKept`: rows kept per tenant and overall (spend totals are kept whole). */
  constructor(maxRowsKept: number) {
    this.#maxRowsKept = maxRowsKept;
  }

  async record(entry: LedgerEntry): Promise<void> {
    this.add(toLedgerRow(entry));
  }

  /** Adds an already validated row (the Redis ledger keeps its unsent rows here). */
  add(row: LedgerRow): void {
    this.#spend.set(row.tenant, (this.#spend.get(row.tenant) ?? 0) + row.costUsd);
    this.#rows.push(row, this.#maxRowsKept);
    let log = this.#rowsByTenant.get(row.tenant);
    if (!log) {
      log = new RowLog();
      this.#rowsByTenant.set(row.tenant, log);
    }
    log.push(row, this.#maxRowsKept);
  }

  async spent(tenant: string): Promise<number> {
    return this.#spend.get(tenant) ?? 0;
  }

  async entries(tenant?: string, limit = defaultEntriesLimit): Promise<LedgerRow[]> {
    const log = tenant === undefined ? this.#rows : this.#rowsByTenant.get(tenant);
    return log ? log.latest(limit) : [];
  }

  stats(): { errors: number; pending: number } {
    return { errors: 0, pending: 0 };
  }
}

/** Append-only rows keeping the latest `max`; trims in batches so a push is O(1) amortised. */
class RowLog {
  #rows: LedgerRow[] = [];

  push(row: LedgerRow, max: number): void {
    this.#rows.push(row);
    if (this.#rows.length > max + Math.ceil(max / 4)) this.#rows = this.#rows.slice(-max);
  }

  latest(limit: number): LedgerRow[] {
    return limit > 0 ? this.#rows.slice(-limit).reverse() : [];
  }
}
