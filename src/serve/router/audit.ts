// The audit log: one "request" entry for every request a non-public route answers (who,
// which route, the status, whether it was sensitive and why, where it ran), and one "route"
// entry for every decision of the hybrid router. Neither holds prompt text (see
// decision.ts), so the log can be kept and shipped without becoming a store of sensitive data.

import { once } from "node:events";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import type { RouteDecision } from "./decision.js";

/** One request as the pipeline saw it. */
export interface RequestAudit {
  readonly kind: "request";
  /** ISO time the answer was complete. */
  readonly at: string;
  readonly requestId: string;
  /** null: refused before a tenant was known (401), or an admin route. */
  readonly tenant: string | null;
  readonly method: string;
  /** The route's pattern, e.g. `/v1/chat/completions` (never a query string). */
  readonly endpoint: string;
  readonly status: number;
  readonly sensitive: boolean;
  readonly sensitiveReason?: string;
  readonly provider: string | null;
  readonly zone: string | null;
  readonly cache: "hit" | "miss" | "bypass";
  readonly ms: number;
}

export type AuditEntry = RequestAudit | RouteDecision;

export interface AuditLog {
  /** Must not throw or block the request; failures are the log's own business. */
  record(entry: AuditEntry): void;
  /** Flush and release resources. */
  close(): Promise<void>;
}

/** Keeps the last `capacity` decisions in memory (tests, `/metrics`-style introspection). */
export class MemoryAuditLog implements AuditLog {
  readonly entries: AuditEntry[] = [];

  constructor(readonly capacity = 10_000) {}

  record(entry: AuditEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  async close(): Promise<void> {}
}

/** Appends one JSON line per decision to a file (created with its folder if missing). */
export class JsonlAuditLog implements AuditLog {
  private readonly out: WriteStream;
  private failed: Error | undefined;

  constructor(
    readonly path: string,
    private readonly onError: (e: Error) => void = (e) => process.emitWarning(`audit log ${path}: ${e.message}`),
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.out = createWriteStream(path, { flags: "a" });
    this.out.on("error", (e) => {
      this.failed = e;
      this.onError(e);
    });
  }

  record(entry: AuditEntry): void {
    if (this.failed || this.out.destroyed) return;
    this.out.write(`${JSON.stringify(entry)}\n`);
  }

  async close(): Promise<void> {
    if (this.failed || this.out.destroyed || this.out.closed) return;
    this.out.end();
    await once(this.out, "close");
  }
}
