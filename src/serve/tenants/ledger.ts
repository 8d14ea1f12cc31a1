// The cost ledger: one row per served request (cached ones too, at their cost, usually 0),
// a running spend per tenant, and the latest rows for inspection. The in-memory ledger is
// here; the Redis one, shared by replicas, is in redisLedger.ts.

import { randomUUID } from "node:crypto";
import { z } from "zod";
import { issueLines, safeParseInput } from "../../runtime/index.js";

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
  /** The route it came in on (its pattern, e.g. `/v1/chat/completions`), and its HTTP status. */
  endpoint: z.string().optional(),
  status: z.number().int().optional(),
  requestId: z.string().optional(),
});

export type LedgerEntry = z.infer<typeof ledgerEntrySchema>;

/** A recorded entry; `id` makes a retried write count once. */
export type LedgerRow = LedgerEntry & { id: string };

/** Money set aside for a request in flight, so concurrent requests cannot together overrun a budget. */
export interface BudgetHold {
  readonly id: string;
  readonly tenant: string;
  readonly amountUsd: number;
}

/** What `reserve` found: the hold when granted, and the spend and holds it was checked against. */
export interface Reservation {
  readonly hold: BudgetHold | undefined;
  readonly spentUsd: number;
  readonly heldUsd: number;
}

export interface Ledger {
  /**
   * Records the entry and adds its cost to the tenant's spend; releases `hold` in the same step.
   * Throws TypeError on an invalid entry only.
   */
  record(entry: LedgerEntry, hold?: BudgetHold): Promise<void>;
  /**
   * Sets `amountUsd` aside for the tenant if its spend is below `budgetUsd` and spend + holds +
   * amount stays within it, in one atomic step (two concurrent requests cannot both take the
   * last dollar). A hold lives until `record` releases it, or for `holdTtlMs` (a crashed replica).
   */
  reserve(tenant: string, amountUsd: number, budgetUsd: number): Promise<Reservation>;
  /** Gives a hold back without recording a row. */
  release(hold: BudgetHold): Promise<void>;
  /** The tenant's total spend in USD. */
  spent(tenant: string): Promise<number>;
  /** The latest rows, newest first, of one tenant or of all (default limit 100). */
  entries(tenant?: string, limit?: number): Promise<LedgerRow[]>;
  /** Redis failures so far and rows waiting for Redis (0 for the in-memory ledger). */
  stats(): { errors: number; pending: number };
}

export const defaultEntriesLimit = 100;

/** How long a hold outlives a replica that died before recording its row. */
export const holdTtlMs = 10 * 60_000;

/** Whether a hold of `amount` fits: spend below the budget and spend + holds + amount within it. */
export const holdFits = (spent: number, held: number, amount: number, budget: number): boolean =>
  spent < budget && spent + held + amount <= budget;

/** Holds kept in this process (the in-memory ledger, and the Redis ledger while Redis is down). */
export class LocalHolds {
  readonly #byTenant = new Map<string, Map<string, number>>();

  held(tenant: string): number {
    let sum = 0;
    for (const amount of this.#byTenant.get(tenant)?.values() ?? []) sum += amount;
    return sum;
  }

  /** Checks and takes a hold in one synchronous step (atomic within the process). */
  take(tenant: string, amountUsd: number, budgetUsd: number, spentUsd: number): Reservation {
    const heldUsd = this.held(tenant);
    if (!holdFits(spentUsd, heldUsd, amountUsd, budgetUsd)) return { hold: undefined, spentUsd, heldUsd };
    const hold = { id: randomUUID(), tenant, amountUsd };
    let holds = this.#byTenant.get(tenant);
    if (!holds) {
      holds = new Map();
      this.#byTenant.set(tenant, holds);
    }
    holds.set(hold.id, amountUsd);
    return { hold, spentUsd, heldUsd };
  }

  /** True if this process held it. */
  drop(hold: BudgetHold): boolean {
    const holds = this.#byTenant.get(hold.tenant);
    if (!holds?.delete(hold.id)) return false;
    if (holds.size === 0) this.#byTenant.delete(hold.tenant);
    return true;
  }
}

/** Validates an entry and gives it an id; the one place both ledgers turn input into a row. */
export function toLedgerRow(entry: LedgerEntry): LedgerRow {
  const checked = safeParseInput(ledgerEntrySchema, entry);
  if (!checked.success) throw new TypeError(`invalid ledger entry: ${issueLines(checked.error, entry, { root: "the entry" })}`);
  return { ...checked.data, id: randomUUID() };
}

export class MemoryLedger implements Ledger {
  readonly #spend = new Map<string, number>();
  readonly #rows = new RowLog();
  readonly #rowsByTenant = new Map<string, RowLog>();
  readonly #maxRowsKept: number;
  readonly #holds = new LocalHolds();

  /** `maxRowsKept`: rows kept per tenant and overall (spend totals are kept whole). */
  constructor(maxRowsKept: number) {
    this.#maxRowsKept = maxRowsKept;
  }

  async record(entry: LedgerEntry, hold?: BudgetHold): Promise<void> {
    const row = toLedgerRow(entry);
    if (hold) this.#holds.drop(hold);
    this.add(row);
  }

  async reserve(tenant: string, amountUsd: number, budgetUsd: number): Promise<Reservation> {
    return this.#holds.take(tenant, amountUsd, budgetUsd, this.#spend.get(tenant) ?? 0);
  }

  async release(hold: BudgetHold): Promise<void> {
    this.#holds.drop(hold);
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
