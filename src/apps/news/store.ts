// The news app's one store: feeds, items, readers, their feedback and what each digest showed,
// cached summaries and the ranker's state, in SQLite (better-sqlite3; a file or ":memory:").
// The schema's version is SQLite's `user_version`: opening a store runs each migration past it,
// in one transaction each, so an old file is brought up to date and a new one is created.
// Item embeddings are not stored: their idf is fitted on the collection, so a stored vector
// would go stale as items arrive, and embedding 5,000 items takes well under a second.

import Database from "better-sqlite3";
import { z } from "zod";
import { issueLines, safeParseInput } from "../../runtime/index.js";
import type { Feedback, FeedbackKind, NewsItem, Reader, SummaryLength } from "./types.js";

/** Input the store refuses: a bad reader, feedback naming an unknown reader or item, … */
export class NewsInputError extends Error {
  override name = "NewsInputError";
}

/** A feed the poller knows, with what its last poll learned (for conditional GETs). */
export interface FeedState {
  url: string;
  title: string;
  etag?: string;
  lastModified?: string;
  /** ms since the epoch. */
  lastPolled?: number;
  lastError?: string;
}

export interface FeedPoll {
  /** ms since the epoch. */
  polledAt: number;
  etag?: string;
  lastModified?: string;
  title?: string;
  /** Set on a failed poll, cleared (undefined) on a good one. */
  error?: string;
}

/** A cached summary of one item at one length and language. */
export interface StoredSummary {
  headline: string;
  summary: string;
  /** How it was written ("lm", "extractive", …). */
  method: string;
  /** Model calls it took (retries included). */
  attempts: number;
}

/** One item shown to one reader in a digest: with no feedback, a "shown, not clicked". */
export interface Impression {
  reader: string;
  item: string;
  /** 0-based position in the digest. */
  position: number;
  /** ms since the epoch. */
  at: number;
}

export const SUMMARY_LENGTHS: readonly SummaryLength[] = ["short", "medium", "long"];
export const FEEDBACK_KINDS: readonly FeedbackKind[] = ["open", "click", "dwell", "less"];

/** A reader as given: language, length and digest size may be left to their defaults. */
export const readerSchema = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._-]+$/, "expected letters, digits, '.', '_' or '-'"),
  interests: z
    .string()
    .max(2000)
    .refine((s) => s.trim() !== "", "expected some stated interests")
    // SQLite stores UTF-8: a lone UTF-16 surrogate would come back as U+FFFD, not as given.
    .refine((s) => !/\p{Cs}/u.test(s), "expected well-formed text, without lone UTF-16 surrogates"),
  lang: z
    .string()
    .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/, "expected a language tag such as en or pt-BR")
    .default("en"),
  length: z.enum(SUMMARY_LENGTHS as [SummaryLength, ...SummaryLength[]]).default("medium"),
  digestSize: z.number().int().min(1).max(50).default(10),
});
export type ReaderInput = z.input<typeof readerSchema>;

const feedbackSchema = z.strictObject({
  reader: z.string().min(1),
  item: z.string().min(1),
  kind: z.enum(FEEDBACK_KINDS as [FeedbackKind, ...FeedbackKind[]]),
  seconds: z.number().min(0).max(86_400).optional(),
  at: z.number().int().nonnegative(),
});

/** Each migration takes the schema from version i to i + 1; append, never edit. */
const migrations: readonly string[] = [
  `CREATE TABLE feeds (
     url TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', etag TEXT, last_modified TEXT,
     last_polled INTEGER, last_error TEXT);
   CREATE TABLE items (
     id TEXT PRIMARY KEY, source TEXT NOT NULL, source_title TEXT NOT NULL, title TEXT NOT NULL,
     text TEXT NOT NULL, published INTEGER NOT NULL, link TEXT, lang TEXT NOT NULL);
   CREATE INDEX items_published ON items (published);
   CREATE TABLE readers (
     id TEXT PRIMARY KEY, interests TEXT NOT NULL, lang TEXT NOT NULL, length TEXT NOT NULL,
     digest_size INTEGER NOT NULL);
   CREATE TABLE feedback (
     reader TEXT NOT NULL REFERENCES readers (id), item TEXT NOT NULL REFERENCES items (id),
     kind TEXT NOT NULL, seconds REAL, at INTEGER NOT NULL);
   CREATE INDEX feedback_reader ON feedback (reader, at);
   CREATE TABLE impressions (
     reader TEXT NOT NULL REFERENCES readers (id), item TEXT NOT NULL REFERENCES items (id),
     position INTEGER NOT NULL, at INTEGER NOT NULL);
   CREATE INDEX impressions_reader ON impressions (reader, at);
   CREATE TABLE summaries (
     item TEXT NOT NULL REFERENCES items (id), length TEXT NOT NULL, lang TEXT NOT NULL,
     headline TEXT NOT NULL, summary TEXT NOT NULL, method TEXT NOT NULL, attempts INTEGER NOT NULL,
     PRIMARY KEY (item, length, lang));
   CREATE TABLE bandit (model TEXT PRIMARY KEY, state BLOB NOT NULL, updated INTEGER NOT NULL);`,
];

interface ItemRow {
  id: string;
  source: string;
  source_title: string;
  title: string;
  text: string;
  published: number;
  link: string | null;
  lang: string;
}
interface ReaderRow {
  id: string;
  interests: string;
  lang: string;
  length: SummaryLength;
  digest_size: number;
}
interface FeedRow {
  url: string;
  title: string;
  etag: string | null;
  last_modified: string | null;
  last_polled: number | null;
  last_error: string | null;
}
interface FeedbackRow {
  reader: string;
  item: string;
  kind: FeedbackKind;
  seconds: number | null;
  at: number;
}

const toItem = (r: ItemRow): NewsItem => ({
  id: r.id,
  source: r.source,
  sourceTitle: r.source_title,
  title: r.title,
  text: r.text,
  published: r.published,
  ...(r.link === null ? {} : { link: r.link }),
  lang: r.lang,
});
const toReader = (r: ReaderRow): Reader => ({
  id: r.id,
  interests: r.interests,
  lang: r.lang,
  length: r.length,
  digestSize: r.digest_size,
});
const toFeed = (r: FeedRow): FeedState => ({
  url: r.url,
  title: r.title,
  ...(r.etag === null ? {} : { etag: r.etag }),
  ...(r.last_modified === null ? {} : { lastModified: r.last_modified }),
  ...(r.last_polled === null ? {} : { lastPolled: r.last_polled }),
  ...(r.last_error === null ? {} : { lastError: r.last_error }),
});
const toFeedback = (r: FeedbackRow): Feedback => ({
  reader: r.reader,
  item: r.item,
  kind: r.kind,
  ...(r.seconds === null ? {} : { seconds: r.seconds }),
  at: r.at,
});

function parsed<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = safeParseInput(schema, value);
  if (!r.success) throw new NewsInputError(`invalid ${what}: ${issueLines(r.error, value, { root: `the ${what}` })}`);
  return r.data;
}

/** Every statement the store runs, prepared once. */
function statements(db: Database.Database) {
  return {
    addFeed: db.prepare("INSERT INTO feeds (url, title) VALUES (?, ?) ON CONFLICT (url) DO UPDATE SET title = excluded.title"),
    listFeeds: db.prepare<[], FeedRow>("SELECT * FROM feeds ORDER BY url"),
    updateFeedPoll: db.prepare(
      `UPDATE feeds SET last_polled = @polledAt, etag = coalesce(@etag, etag),
         last_modified = coalesce(@lastModified, last_modified), title = coalesce(@title, title), last_error = @error
       WHERE url = @url`,
    ),
    insertItem: db.prepare(
      `INSERT OR IGNORE INTO items (id, source, source_title, title, text, published, link, lang)
       VALUES (@id, @source, @sourceTitle, @title, @text, @published, @link, @lang)`,
    ),
    updateItem: db.prepare(
      `UPDATE items SET source = @source, source_title = @sourceTitle, title = @title, text = @text,
         published = @published, link = @link, lang = @lang WHERE id = @id`,
    ),
    items: db.prepare<[number, number], ItemRow>("SELECT * FROM items WHERE published >= ? ORDER BY published DESC, id LIMIT ?"),
    item: db.prepare<[string], ItemRow>("SELECT * FROM items WHERE id = ?"),
    itemCount: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM items"),
    sourceCount: db.prepare<[], { n: number }>("SELECT count(DISTINCT source) AS n FROM items"),
    hasItem: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM items WHERE id = ?"),
    putReader: db.prepare(
      `INSERT INTO readers (id, interests, lang, length, digest_size) VALUES (@id, @interests, @lang, @length, @digestSize)
       ON CONFLICT (id) DO UPDATE SET interests = excluded.interests, lang = excluded.lang, length = excluded.length,
         digest_size = excluded.digest_size`,
    ),
    getReader: db.prepare<[string], ReaderRow>("SELECT * FROM readers WHERE id = ?"),
    listReaders: db.prepare<[], ReaderRow>("SELECT * FROM readers ORDER BY id"),
    addFeedback: db.prepare("INSERT INTO feedback (reader, item, kind, seconds, at) VALUES (?, ?, ?, ?, ?)"),
    feedbackFor: db.prepare<[string, number], FeedbackRow>(
      "SELECT reader, item, kind, seconds, at FROM feedback WHERE reader = ? AND at >= ? ORDER BY at, rowid",
    ),
    feedbackSince: db.prepare<[number], FeedbackRow>(
      "SELECT reader, item, kind, seconds, at FROM feedback WHERE at >= ? ORDER BY at, rowid",
    ),
    addImpression: db.prepare("INSERT INTO impressions (reader, item, position, at) VALUES (?, ?, ?, ?)"),
    impressionsSince: db.prepare<[number], Impression>(
      "SELECT reader, item, position, at FROM impressions WHERE at >= ? ORDER BY at, rowid",
    ),
    impressionsFor: db.prepare<[string, number], Impression>(
      "SELECT reader, item, position, at FROM impressions WHERE reader = ? AND at >= ? ORDER BY at, rowid",
    ),
    getSummary: db.prepare<[string, string, string], StoredSummary>(
      "SELECT headline, summary, method, attempts FROM summaries WHERE item = ? AND length = ? AND lang = ?",
    ),
    putSummary: db.prepare(
      `INSERT INTO summaries (item, length, lang, headline, summary, method, attempts)
       VALUES (@item, @length, @lang, @headline, @summary, @method, @attempts)
       ON CONFLICT (item, length, lang) DO UPDATE SET headline = excluded.headline, summary = excluded.summary,
         method = excluded.method, attempts = excluded.attempts`,
    ),
    getBandit: db.prepare<[string], { state: Buffer }>("SELECT state FROM bandit WHERE model = ?"),
    putBandit: db.prepare(
      `INSERT INTO bandit (model, state, updated) VALUES (?, ?, ?)
       ON CONFLICT (model) DO UPDATE SET state = excluded.state, updated = excluded.updated`,
    ),
  };
}

export class NewsStore {
  readonly #db: Database.Database;
  readonly #sql: ReturnType<typeof statements>;

  /** `path`: a file (opened in WAL mode) or ":memory:". */
  constructor(path = ":memory:") {
    this.#db = new Database(path);
    if (path !== ":memory:") this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("foreign_keys = ON");
    this.#migrate();
    this.#sql = statements(this.#db);
  }

  /** The schema version this code writes; a file from a newer version is refused, not guessed at. */
  static readonly schemaVersion = migrations.length;

  #migrate(): void {
    const version = this.#db.pragma("user_version", { simple: true }) as number;
    if (version > migrations.length)
      throw new Error(`news store schema version ${version} is newer than this code's ${migrations.length}`);
    for (let v = version; v < migrations.length; v++)
      this.#db.transaction(() => {
        this.#db.exec(migrations[v]);
        this.#db.pragma(`user_version = ${v + 1}`);
      })();
  }

  addFeed(url: string, title = ""): void {
    if (url.trim() === "") throw new NewsInputError("a feed needs a URL");
    this.#sql.addFeed.run(url, title);
  }

  listFeeds(): FeedState[] {
    return this.#sql.listFeeds.all().map(toFeed);
  }

  /** Records a poll: the validators it got (kept when absent) and its error (cleared on success). */
  updateFeedPoll(url: string, poll: FeedPoll): void {
    const r = this.#sql.updateFeedPoll.run({
      url,
      polledAt: poll.polledAt,
      etag: poll.etag ?? null,
      lastModified: poll.lastModified ?? null,
      title: poll.title ?? null,
      error: poll.error ?? null,
    });
    if (r.changes === 0) throw new NewsInputError(`unknown feed ${JSON.stringify(url)}`);
  }

  /** Inserts new items and refreshes known ones, in one transaction; returns how many were new. */
  upsertItems(items: readonly NewsItem[]): number {
    const run = this.#db.transaction((list: readonly NewsItem[]) => {
      let added = 0;
      for (const item of list) {
        const row = { ...item, link: item.link ?? null };
        if (this.#sql.insertItem.run(row).changes > 0) added++;
        else this.#sql.updateItem.run(row);
      }
      return added;
    });
    return run(items);
  }

  /** Items published at or after `since`, newest first, at most `limit`. */
  items(options: { since?: number; limit?: number } = {}): NewsItem[] {
    return this.#sql.items.all(options.since ?? Number.MIN_SAFE_INTEGER, options.limit ?? -1).map(toItem);
  }

  item(id: string): NewsItem | undefined {
    const row = this.#sql.item.get(id);
    return row && toItem(row);
  }

  itemCount(): number {
    return this.#sql.itemCount.get()!.n;
  }

  /** Distinct sources (feeds, release-notes files) the items came from. */
  sourceCount(): number {
    return this.#sql.sourceCount.get()!.n;
  }

  /** Adds a reader, or replaces the profile of the one with that id; returns it as stored. */
  addReader(input: ReaderInput): Reader {
    const reader = parsed(readerSchema, input, "reader");
    this.#sql.putReader.run(reader);
    return reader;
  }

  getReader(id: string): Reader | undefined {
    const row = this.#sql.getReader.get(id);
    return row && toReader(row);
  }

  listReaders(): Reader[] {
    return this.#sql.listReaders.all().map(toReader);
  }

  /** Records feedback (one event or a batch, in one transaction); unknown readers or items are refused. */
  addFeedback(feedback: Feedback | readonly Feedback[]): void {
    const list = Array.isArray(feedback) ? feedback : [feedback as Feedback];
    this.#db.transaction(() => {
      for (const raw of list) {
        const f = parsed(feedbackSchema, raw, "feedback");
        this.#known(f.reader, f.item, "feedback");
        this.#sql.addFeedback.run(f.reader, f.item, f.kind, f.seconds ?? null, f.at);
      }
    })();
  }

  /** A reader's feedback at or after `since`, oldest first. */
  feedbackFor(reader: string, since = 0): Feedback[] {
    return this.#sql.feedbackFor.all(reader, since).map(toFeedback);
  }

  /** Everyone's feedback at or after `since`, oldest first (what the ranker learns from). */
  feedbackSince(since = 0): Feedback[] {
    return this.#sql.feedbackSince.all(since).map(toFeedback);
  }

  /** Records what a digest showed, so that shown-and-not-clicked counts as a 0 for the ranker. */
  addImpressions(impressions: readonly Impression[]): void {
    this.#db.transaction(() => {
      for (const s of impressions) {
        this.#known(s.reader, s.item, "an impression");
        this.#sql.addImpression.run(s.reader, s.item, s.position, s.at);
      }
    })();
  }

  impressionsSince(since = 0): Impression[] {
    return this.#sql.impressionsSince.all(since);
  }

  /** One reader's impressions at or after `since` (the impressions_reader index). */
  impressionsFor(reader: string, since = 0): Impression[] {
    return this.#sql.impressionsFor.all(reader, since);
  }

  getSummary(item: string, length: SummaryLength, lang: string): StoredSummary | undefined {
    return this.#sql.getSummary.get(item, length, lang);
  }

  putSummary(item: string, length: SummaryLength, lang: string, summary: StoredSummary): void {
    if (!this.#sql.hasItem.get(item)) throw new NewsInputError(`a summary names an unknown item ${JSON.stringify(item)}`);
    this.#sql.putSummary.run({ item, length, lang, ...summary });
  }

  /** A ranker's saved state (see Ranker.toBlob), or undefined before its first save. */
  getBandit(model: string): Uint8Array | undefined {
    const row = this.#sql.getBandit.get(model);
    return row && new Uint8Array(row.state.buffer, row.state.byteOffset, row.state.byteLength);
  }

  putBandit(model: string, state: Uint8Array, at = Date.now()): void {
    this.#sql.putBandit.run(model, Buffer.from(state.buffer, state.byteOffset, state.byteLength), at);
  }

  close(): void {
    this.#db.close();
  }

  #known(reader: string, item: string, what: string): void {
    if (!this.#sql.getReader.get(reader)) throw new NewsInputError(`${what} names an unknown reader ${JSON.stringify(reader)}`);
    if (!this.#sql.hasItem.get(item)) throw new NewsInputError(`${what} names an unknown item ${JSON.stringify(item)}`);
  }
}
