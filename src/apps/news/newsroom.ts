// The news app as one object over its store: sources in (feeds, release-notes folders, each
// deduplicated against what is stored), readers and their feedback, and the digest — rank the
// newest items for the reader, write each chosen item's headline and summary once (checked
// against the item, cached per length and language), record what was shown.
//
// Learning is settled per reader at the next digest: by then the reader has seen the last one,
// so an item shown and not taken up counts as a 0 exactly once, and a click that came late
// still counts.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Worker } from "node:worker_threads";
import { dedupe } from "./dedup.js";
import { TextEmbedder } from "./embed.js";
import { FeedError, type PollResult, pollFeeds } from "./feeds.js";
import type { IngestWorkerReply } from "./ingestWorker.js";
import { type ItemSet, itemSet, itemText, Ranker } from "./rank.js";
import { type ReleaseNotesNote, scanReleaseNotes } from "./releaseNotes.js";
import { NewsInputError, NewsStore, type ReaderInput } from "./store.js";
import { type ChatBackend, summarizeItem } from "./summarize.js";
import type { Digest, DigestItem, Feedback, FeedbackKind, NewsItem, Reader } from "./types.js";

// From dist the worker is ingestWorker.js; from src (tests, tsx) ingestWorker.ts, and Node 20
// applies no --import hook to a worker's entry, so a one-line module registers tsx first.
const fromSource = import.meta.url.endsWith(".ts");
function startWorker(entry: URL, workerData: unknown): Worker {
  if (!fromSource) return new Worker(entry, { workerData });
  const boot = `const { register } = await import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}); register(); await import(${JSON.stringify(entry.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData });
}

export interface NewsroomOptions {
  /** SQLite file, or ":memory:". */
  db: string;
  /** Who writes headlines and summaries (an OpenAI-compatible chat model); none: the items' own sentences. */
  backend?: ChatBackend;
  /** Model answers tried per summary before the extractive fallback (default 3). */
  summaryAttempts?: number;
  /** Candidates a digest is chosen from: the newest this many items (default 5000). */
  maxCandidates?: number;
  /** Summaries written at once (the local engine batches concurrent requests; default 4). */
  concurrency?: number;
  /** The clock (tests and simulations set it). */
  now?: () => number;
}

export interface IngestResult {
  files: number;
  read: number;
  added: number;
  duplicates: number;
  notes: ReleaseNotesNote[];
}

export interface FeedPollSummary {
  url: string;
  ok: boolean;
  status?: "ok" | "not-modified";
  added?: number;
  duplicates?: number;
  error?: string;
}

/** Items with feedback are read; items shown this long ago had their chance. */
const SHOWN_TTL_MS = 24 * 3600 * 1000;
const RANKER_KEY = "ours";
const LEARNED_KEY = "ours:learned-until";
const SAVE_EVERY_MS = 30_000;

/** Runs `work` over `xs` with at most `limit` at once, results in order. */
async function mapLimit<T, R>(xs: readonly T[], limit: number, work: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(xs.length);
  let next = 0;
  const lane = async () => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await work(xs[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, xs.length) }, lane));
  return out;
}

export class Newsroom {
  readonly store: NewsStore;
  readonly ranker: Ranker;
  #candidates: { key: string; set: ItemSet } | undefined;
  readonly #now: () => number;
  /** Per reader, up to when their impressions and feedback have been learned from. */
  readonly #learned: Record<string, number>;
  #dirty = false;
  #savedAt = 0;

  private constructor(private readonly options: NewsroomOptions) {
    this.store = new NewsStore(options.db);
    const blob = this.store.getBandit(RANKER_KEY);
    this.ranker = blob ? Ranker.fromBlob(blob) : new Ranker();
    const learned = this.store.getBandit(LEARNED_KEY);
    this.#learned = learned ? JSON.parse(new TextDecoder().decode(learned)) : {};
    this.#now = options.now ?? Date.now;
  }

  /** Opens (or creates, with its folder) the store at `options.db`. */
  static open(options: NewsroomOptions): Newsroom {
    if (options.db !== ":memory:") mkdirSync(dirname(options.db), { recursive: true });
    return new Newsroom(options);
  }

  stats(): { items: number; sources: number; readers: number; feeds: number } {
    return {
      items: this.store.itemCount(),
      sources: this.store.sourceCount(),
      readers: this.store.listReaders().length,
      feeds: this.store.listFeeds().length,
    };
  }

  /** Adds the new items of `incoming` that are no near-duplicate of a stored item or of each other. */
  #addItems(incoming: readonly NewsItem[]): { added: number; duplicates: number } {
    if (incoming.length === 0) return { added: 0, duplicates: 0 };
    const stored = this.store.items({ limit: this.options.maxCandidates ?? 5000 });
    const known = new Set(stored.map((i) => i.id));
    const fresh = incoming.filter((i) => !known.has(i.id));
    const { kept, duplicates } = dedupe([...stored, ...fresh]);
    const add = kept.filter((i) => !known.has(i.id));
    const added = this.store.upsertItems(add);
    if (added > 0) this.#candidates = undefined;
    return { added, duplicates: duplicates.filter((d) => !known.has(d.id)).length };
  }

  /** Reads a folder of release notes (Debian changelogs, NEWS.Debian) into the store. */
  ingest(folder: string, options: { maxFiles?: number; maxItemsPerFile?: number } = {}): IngestResult {
    const scan = scanReleaseNotes(folder, options);
    const { added, duplicates } = this.#addItems(scan.items);
    return { files: scan.files.length, read: scan.items.length, added, duplicates, notes: scan.notes };
  }

  /** `ingest` of several folders on a worker thread (the event loop stays free meanwhile). */
  async ingestInBackground(folders: readonly string[]): Promise<IngestResult> {
    const worker = startWorker(new URL(`./ingestWorker${fromSource ? ".ts" : ".js"}`, import.meta.url), { folders });
    worker.unref(); // a server closing mid-ingest does not wait for it
    const reply = await new Promise<IngestWorkerReply>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`the ingest thread exited (code ${code})`)));
    });
    await worker.terminate();
    if (reply.error) throw new Error(`ingest of ${folders.join(", ")}: ${reply.error}`);
    // Deduplicated among themselves already; against the store only when it holds items.
    const { added, duplicates } =
      this.store.itemCount() === 0 ? { added: this.store.upsertItems(reply.items), duplicates: 0 } : this.#addItems(reply.items);
    this.#candidates = undefined;
    return { files: reply.files, read: reply.read, added, duplicates: reply.duplicates + duplicates, notes: reply.notes };
  }

  addFeed(url: string): void {
    if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) throw new NewsInputError(`feed: expected an http(s) URL, got "${url}"`);
    this.store.addFeed(url);
  }

  /** Polls every feed once (conditional GETs; one feed's failure never stops the others). */
  async poll(options: { timeoutMs?: number } = {}): Promise<FeedPollSummary[]> {
    const feeds = this.store.listFeeds();
    const results: PollResult[] = await pollFeeds(feeds, options);
    const polledAt = this.#now();
    return results.map((r) => {
      if (!r.ok) {
        this.store.updateFeedPoll(r.url, { polledAt, error: r.error.reason });
        return { url: r.url, ok: false, error: r.error.message };
      }
      const prev = feeds.find((f) => f.url === r.url);
      if (r.result.status === "not-modified") {
        this.store.updateFeedPoll(r.url, { polledAt, etag: prev?.etag, lastModified: prev?.lastModified });
        return { url: r.url, ok: true, status: "not-modified", added: 0, duplicates: 0 };
      }
      const { etag, lastModified, title, items } = r.result;
      this.store.updateFeedPoll(r.url, { polledAt, etag, lastModified, title });
      return { url: r.url, ok: true, status: "ok", ...this.#addItems(items) };
    });
  }

  addReader(input: ReaderInput): Reader {
    return this.store.addReader(input);
  }

  #reader(id: string): Reader {
    const reader = this.store.getReader(id);
    if (!reader)
      throw new NewsInputError(`reader: no reader "${id}" (add one with aigc news reader add, or POST /v1/news/readers)`);
    return reader;
  }

  feedback(input: { reader: string; item: string; kind: FeedbackKind; seconds?: number }): Feedback {
    const feedback: Feedback = { ...input, at: this.#now() };
    this.store.addFeedback(feedback);
    return feedback;
  }

  /** The newest items, embedded and clustered once per change of the store. */
  #candidateSet(): ItemSet {
    const newest = this.store.items({ limit: 1 })[0];
    const key = `${this.store.itemCount()}:${newest?.id}`;
    if (this.#candidates?.key !== key) {
      const items = this.store.items({ limit: this.options.maxCandidates ?? 5000 });
      const embedder = new TextEmbedder().fit(items.map(itemText));
      this.#candidates = { key, set: itemSet(items, embedder) };
    }
    return this.#candidates.set;
  }

  /** Learns from what `reader` was shown and did since the last settlement. */
  #settle(reader: Reader, items: ItemSet, now: number): void {
    const since = this.#learned[reader.id] ?? 0;
    const feedback = this.store.feedbackFor(reader.id, since);
    const shown = this.store.impressionsFor(reader.id, since);
    if (feedback.length > 0 || shown.length > 0) this.ranker.update(feedback, { items, readers: [reader], shown });
    this.#learned[reader.id] = now;
    this.#dirty = true;
    if (now - this.#savedAt >= SAVE_EVERY_MS) this.#save(now);
  }

  /**
   * The ranker and what it has learned from, stored together. Not after every digest: the
   * blob holds every reader's profile (MBs for thousands of readers); a crash loses at most
   * SAVE_EVERY_MS of learning, and the feedback itself is in the store already.
   */
  #save(now = this.#now()): void {
    if (!this.#dirty) return;
    this.store.putBandit(RANKER_KEY, this.ranker.toBlob());
    this.store.putBandit(LEARNED_KEY, new TextEncoder().encode(JSON.stringify(this.#learned)));
    this.#dirty = false;
    this.#savedAt = now;
  }

  /** The headline and summary of `item` at the reader's length and language, written once. */
  async #summary(
    item: NewsItem,
    reader: Reader,
    backend: ChatBackend | undefined,
  ): Promise<Pick<DigestItem, "headline" | "summary" | "method">> {
    const cached = this.store.getSummary(item.id, reader.length, reader.lang);
    // An extractive summary written without a model is tried again once one is there; one the
    // model failed at is kept (asking the same model again would fail the same way).
    if (cached && (cached.method === "model" || cached.attempts > 0 || !backend))
      return { headline: cached.headline, summary: cached.summary, method: cached.method as "model" | "extractive" };
    const s = await summarizeItem(item, {
      backend,
      length: reader.length,
      lang: reader.lang,
      maxAttempts: this.options.summaryAttempts,
    });
    this.store.putSummary(item.id, reader.length, reader.lang, {
      headline: s.headline,
      summary: s.summary,
      method: s.method,
      attempts: s.attempts,
    });
    return { headline: s.headline, summary: s.summary, method: s.method };
  }

  /**
   * A digest for `readerId`: ranked, diversified, summarized; its items are recorded as shown.
   * `backend` overrides the newsroom's writer for this digest (the server passes one that
   * carries the caller's API key, so the summaries are the caller's requests).
   */
  async digest(readerId: string, options: { size?: number; backend?: ChatBackend } = {}): Promise<Digest> {
    const reader = this.#reader(readerId);
    const now = this.#now();
    if (this.store.itemCount() === 0) return { reader: reader.id, generated: now, items: [] };
    const items = this.#candidateSet();
    this.#settle(reader, items, now);
    const exclude = new Set(this.store.feedbackFor(reader.id).map((f) => f.item));
    for (const s of this.store.impressionsFor(reader.id)) if (now - s.at > SHOWN_TTL_MS) exclude.add(s.item);
    const ranked = this.ranker.rank(reader, items, { now, k: options.size ?? reader.digestSize, exclude });
    const written = await mapLimit(ranked, this.options.concurrency ?? 4, (r) =>
      this.#summary(items.items[r.index], reader, options.backend ?? this.options.backend),
    );
    const digestItems: DigestItem[] = ranked.map((r, i) => {
      const item = items.items[r.index];
      return {
        item: item.id,
        source: item.sourceTitle,
        title: item.title,
        ...written[i],
        link: item.link,
        published: item.published,
        score: r.score,
      };
    });
    this.store.addImpressions(ranked.map((r, position) => ({ reader: reader.id, item: r.item, position, at: now })));
    return { reader: reader.id, generated: now, items: digestItems };
  }

  close(): void {
    this.#save();
    this.store.close();
  }
}

export { FeedError, NewsInputError };
