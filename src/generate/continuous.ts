// Continuous batching (vLLM's idea, at the granularity of one decode step): requests join the
// running batch at the next step and leave it the step they finish, so a long generation
// never holds short ones back and the batch is as full as the load allows.
//
// Each step is one `feed`: rows that joined get their whole prompt (prefill), running rows
// their last token. The session's row count follows the load in powers of two up to
// `maxBatch` (a step's cost grows with its rows, padding included); a finished row is
// released and reused; cache columns no live row uses are dropped once they outnumber the
// live ones (every step attends over all the columns, so dead ones cost time until then).
// When idle, a new request waits up to `maxWaitMs` for company only while requests have been
// arriving closer together than that (an EWMA of the gaps): at low load the window is 0 and a
// lone request starts at once.
//
// A request's tokens depend only on its prompt, options and seed, never on its batch-mates
// (each has its own sampler stream, the same one `generate` gives a lone prompt).

import { Rng } from "../runtime/index.js";
import {
  type BatchDecodeModel,
  type BatchDecodeSession,
  checkedLogits,
  checkPromptsFit,
  GenerateError,
  type GenerateOptions,
  penaltyToEngine,
  type ResolvedGenerateOptions,
  RowDecoder,
  randomSeed,
  resolveGenerateOptions,
  type StreamChunk,
} from "./generate.js";

export interface ContinuousBatcherOptions {
  /** Most sequences decoded together (the session's row count never exceeds it). */
  maxBatch: number;
  /** Longest an idle batcher waits to gather a batch when requests arrive in bursts. */
  maxWaitMs: number;
}

export const continuousBatcherDefaults: ContinuousBatcherOptions = Object.freeze({ maxBatch: 16, maxWaitMs: 4 });

/** What the router reads to decide whether this engine is overloaded. */
export interface BatcherLoad {
  /** Requests waiting for a row. */
  queued: number;
  /** Requests in the running batch. */
  running: number;
  /** p95 of the last 200 requests' total latency (ms); 0 before any finished. */
  p95LatencyMs: number;
  /** Decode steps run so far, and the mean number of live rows per step. */
  steps: number;
  meanBatch: number;
  /** The most cache columns the session held at once (every step attends over all of them). */
  peakColumns: number;
}

/** An unbounded single-consumer queue that is also the request's output stream. */
class ChunkQueue implements AsyncIterable<StreamChunk> {
  private readonly items: StreamChunk[] = [];
  private wake?: () => void;
  private ended = false;
  private failure?: unknown;
  /** Set when the consumer stopped reading (client gone): the batcher drops the request. */
  cancelled = false;

  push(c: StreamChunk): void {
    this.items.push(c);
    this.wake?.();
  }
  end(): void {
    this.ended = true;
    this.wake?.();
  }
  fail(e: unknown): void {
    this.failure = e;
    this.ended = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<StreamChunk, void, undefined> {
    try {
      for (;;) {
        if (this.items.length > 0) {
          yield this.items.shift()!;
          continue;
        }
        if (this.failure !== undefined) throw this.failure;
        if (this.ended) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
      }
    } finally {
      if (!this.ended) this.cancelled = true;
    }
  }
}

interface Request {
  prompt: number[];
  /** Prefix features for a multimodal model (see BatchDecodeSession.setPrefix). */
  prefix?: Float32Array;
  /** The LoRA adapter the request decodes with (see BatchDecodeSession.setAdapter). */
  adapter?: string;
  opts: ResolvedGenerateOptions;
  seed: number;
  out: ChunkQueue;
  decoder?: RowDecoder;
  /** Row in the session; -1 while queued. */
  row: number;
  /** The prompt still has to be fed (the request joined this step). */
  prefill: boolean;
  enqueuedAt: number;
}

const nextPowerOfTwo = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export class ContinuousBatcher {
  readonly options: ContinuousBatcherOptions;
  private readonly queue: Request[] = [];
  private running: Request[] = [];
  private peakColumns = 0;
  private session?: BatchDecodeSession;
  private loop?: Promise<void>;
  private gapEwmaMs = Number.POSITIVE_INFINITY;
  private lastArrival = 0;
  private readonly latencies: number[] = [];
  private steps = 0;
  private rowSteps = 0;
  private closed = false;

  constructor(
    private readonly model: BatchDecodeModel,
    options: Partial<ContinuousBatcherOptions> = {},
  ) {
    this.options = { ...continuousBatcherDefaults, ...options };
    const { maxBatch, maxWaitMs } = this.options;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    if (!(maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be ≥ 0, got ${maxWaitMs}`);
  }

  /**
   * Queue one prompt; its tokens stream from the returned iterable. Bad options or a prompt
   * that does not fit the model throw GenerateError here, before anything is queued.
   * Stopping the iteration early drops the request at the next step.
   */
  submit(
    prompt: readonly number[],
    options: GenerateOptions = {},
    extras: { prefix?: Float32Array; adapter?: string } = {},
  ): AsyncIterable<StreamChunk> {
    if (this.closed) throw new Error("the batcher is closed");
    const opts = resolveGenerateOptions([prompt], options);
    checkPromptsFit([prompt], this.model);
    const now = performance.now();
    if (this.lastArrival > 0) {
      const gap = now - this.lastArrival;
      this.gapEwmaMs = Number.isFinite(this.gapEwmaMs) ? 0.8 * this.gapEwmaMs + 0.2 * gap : gap;
    }
    this.lastArrival = now;
    const seed = Array.isArray(opts.seed) ? opts.seed[0] : (opts.seed ?? randomSeed());
    const request: Request = {
      prompt: [...prompt],
      prefix: extras.prefix,
      adapter: extras.adapter,
      opts,
      seed,
      out: new ChunkQueue(),
      row: -1,
      prefill: true,
      enqueuedAt: now,
    };
    this.queue.push(request);
    this.loop ??= this.run().finally(() => {
      this.loop = undefined;
    });
    return request.out;
  }

  load(): BatcherLoad {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      queued: this.queue.length,
      running: this.running.length,
      p95LatencyMs: sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))] : 0,
      steps: this.steps,
      meanBatch: this.steps ? this.rowSteps / this.steps : 0,
      peakColumns: this.peakColumns,
    };
  }

  /** Stop taking requests, finish the queued and running ones, free the session. */
  async close(): Promise<void> {
    this.closed = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.running.length > 0) {
        if (this.running.length === 0 && this.queue.length < this.options.maxBatch && this.gapEwmaMs < this.options.maxWaitMs) {
          await new Promise((r) => setTimeout(r, this.options.maxWaitMs));
        }
        await this.admit();
        await this.decodeStep();
      }
    } finally {
      await this.session?.close();
      this.session = undefined;
    }
  }

  /** Move queued requests into free rows, resizing the session to the load. */
  private async admit(): Promise<void> {
    this.running = this.running.filter((r) => !r.out.cancelled);
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].out.cancelled) this.queue.splice(i, 1);
    const joining = this.queue.splice(0, this.options.maxBatch - this.running.length);
    const live = this.running.length + joining.length;
    if (live === 0) return;
    const rows = Math.min(this.options.maxBatch, nextPowerOfTwo(live));
    if (!this.session) {
      this.session = await this.model.open(rows);
    } else if (rows !== this.session.rows || this.hasManyDeadColumns(this.session)) {
      // Resize (or compact): the running requests become rows 0..n-1.
      this.session.repack(
        this.running.map((r) => r.row),
        rows,
      );
      this.running.forEach((r, i) => {
        r.row = i;
      });
    }
    const taken = new Set(this.running.map((r) => r.row));
    let free = 0;
    for (const request of joining) {
      while (taken.has(free)) free++;
      request.row = free;
      taken.add(free);
      this.session.release(free);
      if (request.prefix || request.adapter !== undefined) {
        try {
          if (request.prefix) {
            if (!this.session.setPrefix) throw new GenerateError("this model takes no prefix features");
            this.session.setPrefix(free, request.prefix);
          }
          if (request.adapter !== undefined) {
            if (!this.session.setAdapter) throw new GenerateError("this model serves no LoRA adapters");
            this.session.setAdapter(free, request.adapter);
          }
        } catch (e) {
          request.out.fail(e instanceof GenerateError ? e : new GenerateError((e as Error).message));
          taken.delete(free);
          continue;
        }
      }
      request.decoder = new RowDecoder(
        this.model,
        request.prompt,
        penaltyToEngine(this.session, free, request.opts),
        Rng.forName(request.seed, "row 0"),
        this.model.maxLength,
      );
      request.prefill = true;
      this.running.push(request);
    }
  }

  /** Whether columns no live row uses outnumber the live ones (and 32): time to compact. */
  private hasManyDeadColumns(session: BatchDecodeSession): boolean {
    if (session.columns <= 64) return false; // cannot hold: spare the count
    const live = session.liveColumns;
    return session.columns - live > Math.max(32, live);
  }

  /** One feed for every live row, then one sampled token each. */
  private async decodeStep(): Promise<void> {
    const session = this.session;
    if (!session || this.running.length === 0) return;
    const batch = this.running;
    const tokens = batch.map((r) => (r.prefill ? r.prompt : [r.decoder!.generated.at(-1)!]));
    let logits: Float32Array[];
    try {
      const rows = batch.map((r) => r.row);
      logits = checkedLogits(session, rows, await session.feed(rows, tokens));
    } catch (e) {
      // The session may be inconsistent: fail these requests, start afresh for the next ones.
      for (const r of batch) r.out.fail(e);
      this.running = [];
      await session.close();
      this.session = undefined;
      return;
    }
    this.steps++;
    this.rowSteps += batch.length;
    this.peakColumns = Math.max(this.peakColumns, session.columns);
    const still: Request[] = [];
    batch.forEach((r, i) => {
      r.prefill = false;
      let event: ReturnType<RowDecoder["sampleNext"]>;
      try {
        event = r.decoder!.sampleNext(logits[i]);
      } catch (e) {
        r.out.fail(e);
        session.release(r.row);
        return;
      }
      const { token, delta: text, finishReason, logprobs } = event;
      r.out.push(logprobs === undefined ? { token, text, finishReason } : { token, text, finishReason, logprobs });
      if (event.finishReason === null && !r.out.cancelled) {
        still.push(r);
        return;
      }
      r.out.end();
      session.release(r.row);
      this.latencies.push(performance.now() - r.enqueuedAt);
      if (this.latencies.length > 200) this.latencies.shift();
    });
    this.running = still;
  }
}
