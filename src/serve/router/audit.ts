// Where routing decisions are recorded. A decision holds no prompt text (see decision.ts),
// so the log can be kept and shipped without becoming a store of sensitive data.

import { once } from "node:events";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import type { RouteDecision } from "./decision.js";

export interface AuditLog {
  /** Must not throw or block the request; failures are the log's own business. */
  record(decision: RouteDecision): void;
  /** Flush and release resources. */
  close(): Promise<void>;
}

/** Keeps the last `capacity` decisions in memory (tests, `/metrics`-style introspection). */
export class MemoryAuditLog implements AuditLog {
  readonly entries: RouteDecision[] = [];

  constructor(readonly capacity = 10_000) {}

  record(decision: RouteDecision): void {
    this.entries.push(decision);
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

  record(decision: RouteDecision): void {
    if (this.failed || this.out.destroyed) return;
    this.out.write(`${JSON.stringify(decision)}\n`);
  }

  async close(): Promise<void> {
    if (this.failed || this.out.destroyed || this.out.closed) return;
    this.out.end();
    await once(this.out, "close");
  }
}
