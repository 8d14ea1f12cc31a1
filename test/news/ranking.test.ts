// The news app's store, embeddings and ranker, and the ranker against its baselines on
// simulated readers (test/news/simulatedReaders.ts): ours must beat popularity, recency and
// content-only on nDCG@10 and MRR from day 5 on.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import fc from "fast-check";
import { dot, readerEmbedding, TextEmbedder } from "../../src/apps/news/embed.js";
import {
  baselineRankers,
  diversify,
  FEATURES,
  type ItemSet,
  itemSet,
  itemText,
  outcomes,
  Ranker,
  rankForReader,
  topK,
} from "../../src/apps/news/rank.js";
import { type Impression, NewsInputError, NewsStore } from "../../src/apps/news/store.js";
import type { Feedback, NewsItem, Reader } from "../../src/apps/news/types.js";
import { Rng } from "../../src/runtime/index.js";
import { SimulatedWorld, simulate, TOPIC_WORDS } from "./simulatedReaders.js";

const HOUR = 3_600_000;
const NOW = Date.UTC(2025, 5, 1);

const item = (id: string, title: string, text: string, published = NOW - HOUR): NewsItem => ({
  id,
  source: "https://example.org/feed.xml",
  sourceTitle: "Example",
  title,
  text,
  published,
  lang: "en",
});

/** `n` items on one hidden topic, words drawn from its list (seeded). */
function topicItems(topic: string, n: number, seed: number, published: (i: number) => number = () => NOW - HOUR) {
  const rng = new Rng(seed);
  const words = TOPIC_WORDS[topic];
  const say = (k: number) => Array.from({ length: k }, () => rng.pick(words)).join(" ");
  return Array.from({ length: n }, (_, i) => item(`${topic}-${seed}-${i}`, say(5), `${say(12)}. ${say(10)}.`, published(i)));
}

const reader = (id: string, interests: string): Reader => ({ id, interests, lang: "en", length: "short", digestSize: 10 });

// --- The store --------------------------------------------------------------------------------

test("the store keeps feeds, items, readers, feedback, impressions, summaries and ranker state", () => {
  const store = new NewsStore();
  store.addFeed("https://blog.rust-lang.org/feed.xml", "Rust Blog");
  store.updateFeedPoll("https://blog.rust-lang.org/feed.xml", { polledAt: 5, etag: '"abc"', lastModified: "Mon" });
  store.updateFeedPoll("https://blog.rust-lang.org/feed.xml", { polledAt: 6, error: "HTTP 503" });
  assert.deepEqual(store.listFeeds(), [
    {
      url: "https://blog.rust-lang.org/feed.xml",
      title: "Rust Blog",
      etag: '"abc"',
      lastModified: "Mon",
      lastPolled: 6,
      lastError: "HTTP 503",
    },
  ]);
  assert.throws(() => store.updateFeedPoll("https://nowhere", { polledAt: 1 }), NewsInputError);

  const a = item("a", "Rust 1.80", "cargo and crates", NOW - 3 * HOUR);
  const b = { ...item("b", "Python 3.13", "free threading", NOW - 2 * HOUR), link: "https://python.org" };
  const c = item("c", "Kernel 6.10", "a new scheduler", NOW - HOUR);
  assert.equal(store.upsertItems([a, b]), 2);
  assert.equal(store.upsertItems([{ ...a, title: "Rust 1.80 released" }, b, c]), 1, "only c is new");
  assert.equal(store.itemCount(), 3);
  assert.deepEqual(store.items(), [c, b, { ...a, title: "Rust 1.80 released" }], "newest first, updates kept");
  assert.deepEqual(
    store.items({ since: NOW - 2 * HOUR, limit: 1 }).map((x) => x.id),
    ["c"],
  );
  assert.deepEqual(store.item("b"), b);

  const ann = store.addReader({ id: "ann", interests: "rust compilers" });
  assert.deepEqual(ann, { id: "ann", interests: "rust compilers", lang: "en", length: "medium", digestSize: 10 });
  store.addReader({ id: "bo", interests: "python packaging", lang: "zh", length: "long", digestSize: 5 });
  store.addReader({ ...ann, interests: "rust, llvm" }); // the same id replaces the profile
  assert.equal(store.getReader("ann")?.interests, "rust, llvm");
  assert.deepEqual(
    store.listReaders().map((r) => r.id),
    ["ann", "bo"],
  );
  assert.equal(store.getReader("nobody"), undefined);

  const events: Feedback[] = [
    { reader: "ann", item: "a", kind: "click", at: 10 },
    { reader: "ann", item: "a", kind: "dwell", seconds: 42.5, at: 11 },
    { reader: "bo", item: "b", kind: "less", at: 12 },
  ];
  store.addFeedback(events);
  store.addFeedback({ reader: "ann", item: "c", kind: "open", at: 13 });
  assert.deepEqual(store.feedbackFor("ann"), [...events.slice(0, 2), { reader: "ann", item: "c", kind: "open", at: 13 }]);
  assert.deepEqual(store.feedbackFor("ann", 12), [{ reader: "ann", item: "c", kind: "open", at: 13 }]);
  assert.equal(store.feedbackSince(0).length, 4);
  assert.throws(() => store.addFeedback({ reader: "cy", item: "a", kind: "click", at: 1 }), /unknown reader "cy"/);
  assert.throws(() => store.addFeedback({ reader: "ann", item: "zz", kind: "click", at: 1 }), /unknown item "zz"/);
  assert.throws(() => store.addFeedback({ reader: "ann", item: "a", kind: "like" as "click", at: 1 }), NewsInputError);
  assert.throws(
    () =>
      store.addFeedback([
        { reader: "ann", item: "b", kind: "click", at: 20 },
        { reader: "ann", item: "zz", kind: "click", at: 21 },
      ]),
    NewsInputError,
  );
  assert.equal(store.feedbackSince(20).length, 0, "a refused batch leaves nothing behind");

  const shown: Impression[] = [{ reader: "bo", item: "c", position: 0, at: 30 }];
  store.addImpressions(shown);
  assert.deepEqual(store.impressionsSince(30), shown);

  const summary = { headline: "Rust 1.80", summary: "Cargo gets faster.", method: "lm", attempts: 1 };
  store.putSummary("a", "short", "en", summary);
  assert.deepEqual(store.getSummary("a", "short", "en"), summary);
  assert.equal(store.getSummary("a", "long", "en"), undefined);
  store.putSummary("a", "short", "en", { ...summary, attempts: 2 });
  assert.equal(store.getSummary("a", "short", "en")?.attempts, 2);
  assert.throws(() => store.putSummary("zz", "short", "en", summary), NewsInputError);

  assert.equal(store.getBandit("ours"), undefined);
  store.putBandit("ours", new Uint8Array([1, 2, 3]));
  assert.deepEqual([...store.getBandit("ours")!], [1, 2, 3]);
  store.close();
});

test("a store file is in WAL mode, versioned with user_version, kept across opens, and a newer file is refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "news-store-"));
  try {
    const path = join(dir, "news.db");
    const store = new NewsStore(path);
    store.addReader({ id: "ann", interests: "rust" });
    assert.ok(existsSync(`${path}-wal`));
    store.close();
    const raw = new Database(path);
    assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(raw.pragma("user_version", { simple: true }), NewsStore.schemaVersion);
    raw.close();
    const again = new NewsStore(path);
    assert.equal(again.getReader("ann")?.interests, "rust");
    again.close();
    const newer = new Database(path);
    newer.pragma("user_version = 99");
    newer.close();
    assert.throws(() => new NewsStore(path), /schema version 99 is newer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("reader validation names the field and what was wrong", () => {
  const store = new NewsStore();
  const refused: [unknown, RegExp][] = [
    [{ id: "", interests: "x" }, /id: expected at least 1 character/],
    [{ id: "a b", interests: "x" }, /id: expected letters, digits/],
    [{ id: "a".repeat(65), interests: "x" }, /id: expected at most 64 characters/],
    [{ id: "a", interests: "   " }, /interests: expected some stated interests/],
    [{ id: "a", interests: "x".repeat(2001) }, /interests: expected at most 2000 characters/],
    [{ id: "a", interests: "rust \ud800" }, /interests: expected well-formed text/],
    [{ id: "a", interests: "x", length: "huge" }, /length: expected one of "short", "medium", "long", got "huge"/],
    [{ id: "a", interests: "x", digestSize: 0 }, /digestSize: expected a number >= 1/],
    [{ id: "a", interests: "x", digestSize: 51 }, /digestSize: expected a number <= 50/],
    [{ id: "a", interests: "x", digestSize: 2.5 }, /digestSize: expected an integer/],
    [{ id: "a", interests: "x", lang: "english!" }, /lang: expected a language tag/],
    [{ id: "a", interests: "x", extra: 1 }, /unknown field 'extra'/],
    [null, /expected an object/],
  ];
  for (const [input, message] of refused) {
    assert.throws(
      () => store.addReader(input as never),
      (e: unknown) => e instanceof NewsInputError && message.test(e.message),
    );
  }
  assert.equal(store.listReaders().length, 0);
});

test("any reader input is either stored and read back equal, or refused with a NewsInputError", () => {
  const store = new NewsStore();
  const text = fc.oneof(
    fc.string({ maxLength: 70 }),
    fc.string({ unit: "binary", maxLength: 30 }),
    fc.stringMatching(/^[A-Za-z0-9._-]{1,70}$/),
    fc.constantFrom("", " ", "ann", "a b", "x".repeat(2000), "x".repeat(2001)),
  );
  const input = fc.record(
    {
      id: text,
      interests: text,
      lang: fc.oneof(fc.constantFrom("en", "zh", "pt-BR", "EN", "e", "english"), fc.string({ maxLength: 6 })),
      length: fc.oneof(fc.constantFrom("short", "medium", "long", "huge"), fc.integer()),
      digestSize: fc.oneof(fc.integer({ min: -5, max: 60 }), fc.double(), fc.constant("10")),
    },
    { requiredKeys: ["id"] },
  );
  fc.assert(
    fc.property(input, (raw) => {
      let stored: Reader;
      try {
        stored = store.addReader(raw as never);
      } catch (e) {
        assert.ok(e instanceof NewsInputError, String(e));
        return;
      }
      const expected = { lang: "en", length: "medium", digestSize: 10, ...raw };
      assert.deepEqual(stored, expected);
      assert.deepEqual(store.getReader(stored.id), expected);
    }),
    { numRuns: 400 },
  );
});

// --- Embeddings -------------------------------------------------------------------------------

test("hashed TF-IDF: unit vectors, deterministic, nearer for shared words and word order, idf discounts the common", () => {
  const docs = [
    "rust cargo crate borrow checker release",
    "python pip wheel release",
    "kernel scheduler release",
    "new york city release",
  ];
  const e = new TextEmbedder().fit(docs);
  const v = e.embed("Rust: cargo and crates");
  assert.equal(v.length, 512);
  assert.ok(Math.abs(dot(v, v) - 1) < 1e-5, "unit length");
  assert.deepEqual(new TextEmbedder().fit(docs).embed("Rust: cargo and crates"), v);
  assert.equal(dot(e.embed(""), e.embed("")), 0, "no words, the zero vector");
  const rust = e.embed("rust cargo crates update");
  assert.ok(dot(v, rust) > 0.5 && dot(v, e.embed("python pip wheel")) < 0.1, "shared words, nearer");
  assert.ok(dot(e.embed("borrow checker"), e.embed("checker borrow")) < 0.9, "bigrams tell word order apart");
  // "release" is in every document, "kernel" in one: the rarer word carries more of the vector.
  const both = e.embed("kernel release");
  assert.ok(dot(both, e.embed("kernel")) > dot(both, e.embed("release")) + 0.2, "idf");
});

test("5,000 items are fitted and embedded in about a second", () => {
  const world = new SimulatedWorld({ readers: 1, itemsPerDay: 5000 });
  const texts = world.addDay(1).map(itemText);
  const t0 = performance.now();
  const e = new TextEmbedder().fit(texts);
  for (const t of texts) e.embed(t);
  const seconds = (performance.now() - t0) / 1000;
  assert.ok(seconds < 2, `${seconds.toFixed(2)} s`);
});

test("a reader's embedding: stated interests alone at first, pulled toward what they take up, pushed from 'less'", () => {
  const items = [...topicItems("rust", 5, 1), ...topicItems("python", 5, 2)];
  const e = new TextEmbedder().fit(items.map(itemText));
  const stated = e.embed("python pip");
  assert.deepEqual(readerEmbedding({ stated }), stated);
  const rust = items.slice(0, 5).map((it) => e.embed(itemText(it)));
  const liked = new Float32Array(e.dim);
  for (const v of rust) for (let j = 0; j < e.dim; j++) liked[j] += v[j];
  const probe = e.embed(itemText(topicItems("rust", 1, 3)[0]));
  const after = readerEmbedding({ stated, liked, likedWeight: 5 });
  assert.ok(dot(after, probe) > dot(stated, probe) + 0.1, "toward what was read");
  const refused = readerEmbedding({ stated, less: liked, lessCount: 5 });
  assert.ok(dot(refused, probe) < dot(stated, probe), "away from what was refused");
});

// --- The ranker -------------------------------------------------------------------------------

test("topK gives the k highest scores best first, whatever the scores", () => {
  fc.assert(
    fc.property(fc.array(fc.float({ noNaN: true }), { maxLength: 200 }), fc.integer({ min: 0, max: 30 }), (scores, k) => {
      const top = topK(scores, k).map((i) => scores[i]);
      assert.deepEqual(top, [...scores].sort((a, b) => b - a).slice(0, k));
    }),
  );
});

test("feedback folds into one reward per shown item: click or dwell 1, open 0.3, left 0, 'less' -1", () => {
  const f = (item: string, kind: Feedback["kind"]): Feedback => ({ reader: "r", item, kind, at: 2 });
  const shown = ["a", "b", "c", "d", "e"].map((item, position): Impression => ({ reader: "r", item, position, at: 1 }));
  const got = outcomes(
    [f("a", "click"), f("a", "dwell"), f("b", "open"), f("d", "click"), f("d", "less"), f("e", "dwell")],
    shown,
  );
  assert.deepEqual(Object.fromEntries(got.map((o) => [o.item, o.reward])), { a: 1, b: 0.3, c: 0, d: -1, e: 1 });
  assert.ok(
    got.every((o) => o.at === 1),
    "timed when shown",
  );
});

/** Serves `rounds` digests to `readers`, with clicks from `clicks(reader, item)`, and learns from them. */
function train(ranker: Ranker, set: ItemSet, readers: Reader[], rounds: number, clicks: (r: Reader, it: NewsItem) => boolean) {
  const seen = new Map(readers.map((r) => [r.id, new Set<string>()]));
  for (let round = 0; round < rounds; round++) {
    const feedback: Feedback[] = [];
    const shown: Impression[] = [];
    for (const r of readers) {
      const digest = rankForReader(ranker, r, set, { now: NOW, exclude: seen.get(r.id) });
      digest.forEach((x, position) => {
        seen.get(r.id)!.add(x.item);
        shown.push({ reader: r.id, item: x.item, position, at: NOW });
        if (clicks(r, set.items[x.index])) feedback.push({ reader: r.id, item: x.item, kind: "click", at: NOW });
      });
    }
    ranker.update(feedback, { items: set, readers, shown });
  }
}

test("the ranker learns a reader who states python but only ever reads rust", () => {
  const items = [...topicItems("python", 60, 1), ...topicItems("rust", 60, 2), ...topicItems("kernel", 60, 3)];
  const set = itemSet(items, new TextEmbedder().fit(items.map(itemText)));
  const ann = reader("ann", "python pip django");
  const ranker = new Ranker();
  const topicsOf = (digest: { index: number }[]) => digest.map((x) => set.items[x.index].id.split("-")[0]);
  const before = topicsOf(ranker.rank(ann, set, { now: NOW }));
  assert.ok(before.filter((t) => t === "python").length >= 8, before.join(" "));
  train(ranker, set, [ann], 5, (_, it) => it.id.startsWith("rust"));
  const after = topicsOf(ranker.rank(ann, set, { now: NOW }));
  assert.ok(after.filter((t) => t === "rust").length >= 8, after.join(" "));
});

test("LinUCB learns a planted preference: every reader reads only what is under 6 hours old", () => {
  const topics = Object.keys(TOPIC_WORDS);
  const items = topics.flatMap((t, k) => topicItems(t, 20, k, (i) => NOW - ((i * 48) / 20) * HOUR - k * 60_000));
  const set = itemSet(items, new TextEmbedder().fit(items.map(itemText)));
  const rng = new Rng(5);
  const readers = Array.from({ length: 60 }, (_, i) => {
    const words = TOPIC_WORDS[rng.pick(topics)];
    return reader(`r${i}`, `${rng.pick(words)} ${rng.pick(words)}`);
  });
  const fresh = (it: NewsItem) => NOW - it.published < 6 * HOUR;
  const freshShare = (ranker: Ranker) => {
    const digests = ranker.rankAll(readers, set, { now: NOW });
    return digests.flat().filter((x) => fresh(set.items[x.index])).length / (10 * readers.length);
  };
  const ranker = new Ranker();
  const start = freshShare(ranker);
  train(ranker, set, readers, 3, (_, it) => fresh(it));
  const w = Object.fromEntries(FEATURES.map((f, i) => [f, ranker.weights[i]]));
  assert.ok(w.recency > 3 * Math.abs(w.stated), JSON.stringify(w));
  const end = freshShare(ranker);
  assert.ok(start < 0.5 && end > 0.8, `fresh share ${start.toFixed(2)} → ${end.toFixed(2)}`);
});

test("no digest of 10 has more than 4 items of one topic, even for a reader of one topic", () => {
  assert.deepEqual(diversify([0, 1, 2, 3, 4, 5, 6, 7], Int32Array.from([0, 0, 0, 0, 0, 1, 0, 2]), 6, 4), [0, 1, 2, 3, 5, 7]);
  assert.deepEqual(diversify([0, 1, 2, 3, 4], Int32Array.from([0, 0, 0, 1, 1]), 5), [0, 1, 3, 4, 2], "2 of 5 by default");
  assert.deepEqual(diversify([0, 1, 2], Int32Array.from([0, 0, 0]), 3, 1), [0, 1, 2], "too few topics: filled in order");
  const items = [...topicItems("python", 80, 1), ...topicItems("rust", 10, 2), ...topicItems("kernel", 10, 3)];
  const set = itemSet(items, new TextEmbedder().fit(items.map(itemText)), { topics: 3 });
  const content = baselineRankers().find((p) => p.name === "content")!;
  const bo = reader("bo", "python pip wheel virtualenv");
  const perTopic = (digest: { index: number }[]) => {
    const n = new Map<number, number>();
    for (const x of digest) n.set(set.topics[x.index], (n.get(set.topics[x.index]) ?? 0) + 1);
    return Math.max(...n.values());
  };
  assert.ok(perTopic(content.rank(bo, set, { now: NOW })) > 4, "without the cap, one topic would fill it");
  const digest = new Ranker().rank(bo, set, { now: NOW });
  assert.equal(digest.length, 10);
  assert.ok(perTopic(digest) <= 4, "the cap");
});

test("the ranker's state goes through the store's bandit blob and ranks the same after", () => {
  const world = new SimulatedWorld({ readers: 30, itemsPerDay: 120, seed: 4 });
  const items = world.addDay(1);
  const set = itemSet(items, new TextEmbedder().fit(items.map(itemText)));
  const readers = world.readers.map((r) => r.reader);
  const ranker = new Ranker({ alpha: 0.2 });
  const digests = ranker.rankAll(readers, set, { now: world.now(1) });
  const feedback: Feedback[] = [];
  const shown = digests.flatMap((d, r) => {
    const out = world.respond(
      r,
      d.map((x) => set.items[x.index]),
      world.now(1),
    );
    feedback.push(...out.feedback);
    return out.shown;
  });
  ranker.update(feedback, { items: set, readers, shown });
  const store = new NewsStore();
  store.putBandit("ours", ranker.toBlob());
  const back = Ranker.fromBlob(store.getBandit("ours")!);
  assert.deepEqual(back.weights, ranker.weights);
  assert.deepEqual(back.options, ranker.options);
  assert.deepEqual(back.rankAll(readers, set, { now: world.now(1) }), ranker.rankAll(readers, set, { now: world.now(1) }));
  store.close();
});

// --- Against the baselines, on simulated readers ----------------------------------------------

test("the simulated readers: reproducible, and their tastes are nowhere in what a ranker is given", () => {
  const a = new SimulatedWorld({ readers: 20, itemsPerDay: 30, seed: 9 });
  const b = new SimulatedWorld({ readers: 20, itemsPerDay: 30, seed: 9 });
  assert.deepEqual(a.addDay(1), b.addDay(1));
  assert.deepEqual(
    a.readers.map((r) => r.reader),
    b.readers.map((r) => r.reader),
  );
  for (const r of a.readers) {
    assert.deepEqual(Object.keys(r.reader).sort(), ["digestSize", "id", "interests", "lang", "length"]);
    assert.ok(Math.abs(r.taste.reduce((s, x) => s + x, 0) - 1) < 1e-9, "a mixture");
  }
  assert.deepEqual(Object.keys(a.items[0]).sort(), ["id", "lang", "published", "source", "sourceTitle", "text", "title"]);
});

test("over 20 simulated days ours beats popularity, recency and content-only on nDCG@10 and MRR from day 5 on", () => {
  const result = simulate([new Ranker(), ...baselineRankers()], { readers: 200, days: 20, itemsPerDay: 100, seed: 3 });
  const table = result.days
    .map(
      (m, d) => `day ${d + 1}: ${result.policies.map((p) => `${p} ${m[p].ndcg.toFixed(3)}/${m[p].mrr.toFixed(3)}`).join(", ")}`,
    )
    .join("\n");
  for (const [d, m] of result.days.entries()) {
    if (d + 1 < 5) continue;
    for (const baseline of ["popularity", "recency", "content"]) {
      assert.ok(m.ours.ndcg > m[baseline].ndcg, `day ${d + 1}: nDCG vs ${baseline}\n${table}`);
      assert.ok(m.ours.mrr > m[baseline].mrr, `day ${d + 1}: MRR vs ${baseline}\n${table}`);
    }
  }
  // It learns: the last week is better than the first day.
  const lastWeek = result.days.slice(-7).reduce((s, m) => s + m.ours.ndcg, 0) / 7;
  assert.ok(lastWeek > result.days[0].ours.ndcg + 0.05, table);
});
