// The ranker: which of the candidate items a reader's digest shows, in what order.
//
// Each (reader, item) pair has six features: a bias; the item's cosine to the reader's stated
// interests; its cosine to the reader's profile (stated interests blended with what they took
// up, minus "less like this", see readerEmbedding); the reader's take-up rate near the item
// (what they took up over what they were shown, both weighted by cosine to the item); the
// item's recency (exponential decay with a half-life); and its popularity (its smoothed take-up
// rate over all readers). One LinUCB model shared by all readers (ridge regression A, b over
// those features, plus a bonus α·sqrt(xᵀA⁻¹x) for what it is unsure of) learns what each
// feature is worth from the rewards feedback gives; the per-reader profile vectors carry what
// each reader likes, and a per-reader bonus β·sqrt(m / (m + shown·e)) tries what a reader has
// seen little like (so wrong stated interests are found out). Cold start: a prior on the
// weights that ranks by stated interests, then recency.
//
// Speed: the item matrix is sparse and the features need only three dot products per item
// (stated and profile enter linearly, so they share one), done in one pass over its nonzeros;
// the shared bonus is added only on a shortlist picked by top-k selection (no full sort), which
// is then re-ranked greedily with a cap per topic (k-means clusters of the item embeddings), so
// no digest of 10 has five items on one topic.

import { Rng } from "../../runtime/index.js";
import { dot, type Embedder, embedMatrix, normalize, readerEmbedding } from "./embed.js";
import type { Impression } from "./store.js";
import type { Feedback, FeedbackKind, NewsItem, Reader } from "./types.js";

const HOUR = 3_600_000;

// ---------------------------------------------------------------------------------------------
// Candidate items: embedded once, clustered into topics.

/** A candidate set ready for scoring: the items, their embedding matrix and topic of each. */
export interface ItemSet {
  readonly embedder: Embedder;
  readonly items: readonly NewsItem[];
  readonly index: ReadonlyMap<string, number>;
  /** Row i (at i * dim) is item i's unit embedding. */
  readonly vectors: Float32Array;
  /** The same rows, sparse (item text touches ~100 of 512 buckets): what scoring reads. */
  readonly rows: SparseRows;
  readonly topics: Int32Array;
}

/** Compressed sparse rows: row i's nonzeros are at offsets[i] .. offsets[i + 1] (dim ≤ 65,536). */
export interface SparseRows {
  readonly offsets: Int32Array;
  readonly columns: Uint16Array;
  readonly values: Float32Array;
}

export function sparseRows(vectors: Float32Array, dim: number): SparseRows {
  const n = vectors.length / dim;
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i < vectors.length; i++) if (vectors[i] !== 0) offsets[Math.floor(i / dim) + 1]++;
  for (let i = 0; i < n; i++) offsets[i + 1] += offsets[i];
  const columns = new Uint16Array(offsets[n]);
  const values = new Float32Array(offsets[n]);
  for (let i = 0, at = 0; i < vectors.length; i++)
    if (vectors[i] !== 0) {
      columns[at] = i % dim;
      values[at++] = vectors[i];
    }
  return { offsets, columns, values };
}

/** What an item is embedded from: its source's name says something of its topic too. */
export const itemText = (item: NewsItem): string => `${item.sourceTitle}. ${item.title}. ${item.text}`;

export function itemSet(
  items: readonly NewsItem[],
  embedder: Embedder,
  options: { topics?: number; seed?: number } = {},
): ItemSet {
  const vectors = embedMatrix(embedder, items.map(itemText));
  const topics = kmeans(vectors, embedder.dim, options.topics ?? 16, options.seed ?? 1);
  const rows = sparseRows(vectors, embedder.dim);
  return { embedder, items, index: new Map(items.map((it, i) => [it.id, i])), vectors, rows, topics };
}

/**
 * Spherical k-means (cosine) with k-means++ seeding, deterministic for a seed: the cluster of
 * each row. Rows are unit vectors; centroids are renormalised means.
 */
export function kmeans(vectors: Float32Array, dim: number, k: number, seed: number, rounds = 8): Int32Array {
  const n = vectors.length / dim;
  const assign = new Int32Array(n);
  k = Math.min(k, n);
  if (k <= 1) return assign;
  const rng = new Rng(seed);
  const centroids = new Float32Array(k * dim);
  // k-means++: each next centroid is a row drawn with probability ∝ its distance to the nearest.
  const nearest = new Float64Array(n).fill(Infinity);
  let pick = rng.int(n);
  for (let c = 0; c < k; c++) {
    centroids.set(vectors.subarray(pick * dim, (pick + 1) * dim), c * dim);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.max(0, 1 - dot(centroids.subarray(c * dim, (c + 1) * dim), vectors, i * dim));
      if (d < nearest[i]) nearest[i] = d;
      total += nearest[i];
    }
    let r = rng.next() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= nearest[i];
      if (r <= 0) {
        pick = i;
        break;
      }
    }
  }
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestSim = -Infinity;
      for (let c = 0; c < k; c++) {
        const s = dot(centroids.subarray(c * dim, (c + 1) * dim), vectors, i * dim);
        if (s > bestSim) [best, bestSim] = [c, s];
      }
      assign[i] = best;
    }
    centroids.fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) centroids[assign[i] * dim + j] += vectors[i * dim + j];
    for (let c = 0; c < k; c++) normalize(centroids.subarray(c * dim, (c + 1) * dim));
  }
  return assign;
}

// ---------------------------------------------------------------------------------------------
// Shared pieces: top-k selection, the topic cap, the stated-interests vector, take-up counts.

export interface Ranked {
  item: string;
  /** Index into the ItemSet. */
  index: number;
  score: number;
}

export interface RankOptions {
  /** ms since the epoch: what recency is measured from. */
  now: number;
  /** Items wanted (default: the reader's digest size). */
  k?: number;
  /** Item ids never to show (already shown to this reader). */
  exclude?: ReadonlySet<string>;
}

/** Indices of the `k` highest scores, best first (a min-heap of size k: O(n log k), no full sort). */
export function topK(scores: ArrayLike<number>, k: number, skip?: (i: number) => boolean): number[] {
  const heap: number[] = [];
  const less = (a: number, b: number) => scores[heap[a]] < scores[heap[b]];
  const swap = (a: number, b: number) => ([heap[a], heap[b]] = [heap[b], heap[a]]);
  for (let i = 0; i < scores.length; i++) {
    if (skip?.(i)) continue;
    if (heap.length < k) {
      heap.push(i);
      for (let c = heap.length - 1; c > 0 && less(c, (c - 1) >> 1); c = (c - 1) >> 1) swap(c, (c - 1) >> 1);
    } else if (k > 0 && scores[i] > scores[heap[0]]) {
      heap[0] = i;
      for (let p = 0; ; ) {
        const l = 2 * p + 1;
        const r = l + 1;
        let m = p;
        if (l < heap.length && less(l, m)) m = l;
        if (r < heap.length && less(r, m)) m = r;
        if (m === p) break;
        swap(p, m);
        p = m;
      }
    }
  }
  return heap.sort((a, b) => scores[b] - scores[a] || a - b);
}

/** Most items of one topic in a digest of `k`: 4 of 10. */
export const topicCap = (k: number): number => Math.max(1, Math.floor(0.4 * k));

/**
 * The first `k` of `order` (best first) with at most `cap` per topic; if the candidates hold
 * too few topics to fill the digest that way, the rest is filled in order regardless.
 */
export function diversify(order: readonly number[], topics: Int32Array, k: number, cap = topicCap(k)): number[] {
  const picked: number[] = [];
  const perTopic = new Map<number, number>();
  const left: number[] = [];
  for (const i of order) {
    if (picked.length === k) break;
    const n = perTopic.get(topics[i]) ?? 0;
    if (n < cap) {
      picked.push(i);
      perTopic.set(topics[i], n + 1);
    } else left.push(i);
  }
  for (const i of left) if (picked.length < k) picked.push(i);
  return picked;
}

/** The map's value for a key, made and kept on first use. */
function cached<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

const statedCache = new WeakMap<Embedder, Map<string, Float32Array>>();

/** The embedding of a reader's stated interests, cached per embedder (they change rarely). */
export function statedVector(embedder: Embedder, interests: string): Float32Array {
  const cache = statedCache.get(embedder) ?? new Map<string, Float32Array>();
  statedCache.set(embedder, cache);
  return cached(cache, interests, () => embedder.embed(interests));
}

/** How much one reader's feedback on one shown item was worth: 1 taken up, 0 left, -1 refused. */
export function reward(kinds: ReadonlySet<FeedbackKind>): number {
  if (kinds.has("less")) return -1;
  if (kinds.has("click") || kinds.has("dwell")) return 1;
  return kinds.has("open") ? 0.3 : 0;
}

/** One (reader, item) outcome: every feedback event on it folded into a reward. */
export interface Outcome {
  reader: string;
  item: string;
  reward: number;
  /** When it was shown (or first acted on), ms since the epoch. */
  at: number;
}

/** Groups feedback and impressions by (reader, item); shown with no feedback is a 0. */
export function outcomes(feedback: readonly Feedback[], shown: readonly Impression[] = []): Outcome[] {
  const byPair = new Map<string, { reader: string; item: string; kinds: Set<FeedbackKind>; at: number }>();
  const pair = (reader: string, item: string, at: number) => {
    const key = `${reader}\u0000${item}`;
    const p = cached(byPair, key, () => ({ reader, item, kinds: new Set<FeedbackKind>(), at }));
    p.at = Math.min(p.at, at);
    return p;
  };
  for (const s of shown) pair(s.reader, s.item, s.at);
  for (const f of feedback) pair(f.reader, f.item, f.at).kinds.add(f.kind);
  return [...byPair.values()].map((p) => ({ reader: p.reader, item: p.item, reward: reward(p.kinds), at: p.at }));
}

/**
 * Per item: times shown and reward taken, for a take-up rate smoothed toward the rate of all
 * items (`strength` showings' worth), so an item never shown sits at the average.
 */
export class TakeUp {
  readonly counts = new Map<string, { shown: number; taken: number }>();
  #shown = 0;
  #taken = 0;
  constructor(readonly strength = 5) {}
  add(item: string, r: number, times = 1): void {
    const c = cached(this.counts, item, () => ({ shown: 0, taken: 0 }));
    c.shown += times;
    c.taken += Math.max(0, r);
    this.#shown += times;
    this.#taken += Math.max(0, r);
  }
  /** The rate of all items so far (0.1 before any showing). */
  get overall(): number {
    return (this.#taken + 0.1) / (this.#shown + 1);
  }
  rate(item: string): number {
    const c = this.counts.get(item);
    return ((c?.taken ?? 0) + this.strength * this.overall) / ((c?.shown ?? 0) + this.strength);
  }
  /** A draw from the rate's posterior (normal approximation): Thompson sampling's score. */
  sample(item: string, rng: Rng): number {
    const m = this.rate(item);
    const n = (this.counts.get(item)?.shown ?? 0) + this.strength;
    return m + Math.sqrt((m * (1 - m)) / (n + 1)) * rng.pairedNormal();
  }
}

const recency = (published: number, now: number, halfLifeHours: number) =>
  2 ** (-Math.max(0, now - published) / (halfLifeHours * HOUR));

// ---------------------------------------------------------------------------------------------
// The policies: ours and the baselines share one interface, so the simulation treats them alike.

export interface UpdateContext {
  items: ItemSet;
  readers: readonly Reader[];
  /** What the digests showed (shown with no feedback counts as 0). */
  shown?: readonly Impression[];
}

export interface RankingPolicy {
  readonly name: string;
  /** Every item's score for this reader, higher first (before any re-ranking for diversity). */
  scores(reader: Reader, items: ItemSet, now: number): Float32Array;
  rank(reader: Reader, items: ItemSet, options: RankOptions): Ranked[];
  update(feedback: readonly Feedback[], context: UpdateContext): void;
}

/** Top-k of a score vector, excluded items skipped: how a baseline ranks. */
function topOf(scores: Float32Array, items: ItemSet, k: number, exclude?: ReadonlySet<string>): Ranked[] {
  const skip = exclude && ((i: number) => exclude.has(items.items[i].id));
  return topK(scores, k, skip).map((i) => ({ item: items.items[i].id, index: i, score: scores[i] }));
}

export function rankForReader(policy: RankingPolicy, reader: Reader, items: ItemSet, options: RankOptions): Ranked[] {
  return policy.rank(reader, items, options);
}

/**
 * What a reader has been shown and what they did with it, as sums of item embeddings: what
 * they took up (each times its reward), what they refused ("less like this"), and all they
 * were shown. `liked · e / shown · e` is their take-up rate near an item e (a kernel estimate
 * with cosine weights), and `shown · e` how much of it they have seen: the exploration bonus
 * shrinks with it.
 */
interface ReaderProfile {
  liked: Float32Array;
  likedWeight: number;
  less: Float32Array;
  lessCount: number;
  shown: Float32Array;
  shownCount: number;
}

export interface RankerOptions {
  /** Weight of LinUCB's bonus on the shared weights (default 0.1). */
  alpha?: number;
  /** Weight of the per-reader bonus for what they have seen little like (default 0.05). */
  beta?: number;
  /** Ridge strength, also the prior's weight in observations (default 2). */
  lambda?: number;
  /** Showings' worth of the prior in a reader's take-up rate (default 2). */
  ratePrior?: number;
  /** Recency half-life in hours (default 24). */
  halfLifeHours?: number;
  /** Shortlist size for the bonus and the topic cap, as a multiple of k (default 5, at least 50). */
  shortlist?: number;
}

/** Feature order: bias, stated, profile, the reader's take-up rate near the item, recency, popularity. */
export const FEATURES = ["bias", "stated", "profile", "rate", "recency", "popularity"] as const;
const D = FEATURES.length;
/** Cold start: stated interests first, then what the reader takes up, then recency. */
const PRIOR = [0, 0.5, 0.5, 1, 0.1, 0];

/** A reader's vectors for scoring: stated and profile (unit), liked and shown (sums), or zero. */
interface ReaderVectors {
  stated: Float32Array;
  profile: Float32Array;
  liked: Float32Array;
  shown: Float32Array;
}

export class Ranker implements RankingPolicy {
  readonly name = "ours";
  readonly options: Required<RankerOptions>;
  /** LinUCB's ridge regression: A = λI + Σ x xᵀ, b = λθ₀ + Σ r x. */
  readonly A = new Float64Array(D * D);
  readonly b = new Float64Array(D);
  #theta: Float64Array = new Float64Array(D);
  #aInv: Float64Array = new Float64Array(D * D);
  readonly profiles = new Map<string, ReaderProfile>();
  readonly takeUp = new TakeUp();

  constructor(options: RankerOptions = {}) {
    this.options = { alpha: 0.1, beta: 0.05, lambda: 2, ratePrior: 2, halfLifeHours: 24, shortlist: 5, ...options };
    for (let j = 0; j < D; j++) {
      this.A[j * D + j] = this.options.lambda;
      this.b[j] = this.options.lambda * PRIOR[j];
    }
    this.#solve();
  }

  /** The learned weights, by FEATURES order. */
  get weights(): number[] {
    return [...this.#theta];
  }

  #solve(): void {
    this.#aInv = invert(this.A, D);
    for (let i = 0; i < D; i++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += this.#aInv[i * D + j] * this.b[j];
      this.#theta[i] = s;
    }
  }

  #readerVectors(reader: Reader, embedder: Embedder): ReaderVectors {
    const stated = statedVector(embedder, reader.interests);
    const p = this.profiles.get(reader.id);
    if (!p || p.liked.length !== embedder.dim) {
      const zero = new Float32Array(embedder.dim);
      return { stated, profile: stated, liked: zero, shown: zero };
    }
    return { stated, profile: readerEmbedding({ stated, ...p }), liked: p.liked, shown: p.shown };
  }

  /** The reader's take-up rate near an item from `liked · e` and `shown · e`, and the bonus for little seen. */
  #rate(liked: number, shown: number): { rate: number; novelty: number } {
    const m = this.options.ratePrior;
    const seen = Math.max(0, shown);
    return { rate: (Math.max(0, liked) + m * this.takeUp.overall) / (seen + m), novelty: Math.sqrt(m / (seen + m)) };
  }

  /** The per-item part of the score (bias, recency, popularity): the same for every reader. */
  #itemTerms(items: ItemSet, now: number): Float32Array {
    const t = this.#theta;
    return Float32Array.from(
      items.items,
      (it) => t[0] + t[4] * recency(it.published, now, this.options.halfLifeHours) + t[5] * this.takeUp.rate(it.id),
    );
  }

  /** Every item's expected reward for this reader (θ·x); with `explore`, plus the per-reader bonus. */
  scores(reader: Reader, items: ItemSet, now: number, itemTerms = this.#itemTerms(items, now), explore = false): Float32Array {
    const v = this.#readerVectors(reader, items.embedder);
    const t = this.#theta;
    const beta = explore ? this.options.beta : 0;
    // stated and profile enter linearly: one combined vector, one dot product for both.
    const w = Float32Array.from(v.stated, (s, j) => t[1] * s + t[2] * v.profile[j]);
    const { liked, shown } = v;
    const { offsets, columns, values } = items.rows;
    const out = new Float32Array(items.items.length);
    for (let i = 0; i < out.length; i++) {
      let a = 0;
      let l = 0;
      let x = 0;
      for (let at = offsets[i]; at < offsets[i + 1]; at++) {
        const c = columns[at];
        a += w[c] * values[at];
        l += liked[c] * values[at];
        x += shown[c] * values[at];
      }
      const r = this.#rate(l, x);
      out[i] = itemTerms[i] + a + t[3] * r.rate + beta * r.novelty;
    }
    return out;
  }

  /** A (reader, item) pair's features, in FEATURES order. */
  features(v: ReaderVectors, items: ItemSet, i: number, now: number): number[] {
    const at = i * items.embedder.dim;
    const it = items.items[i];
    return [
      1,
      dot(v.stated, items.vectors, at),
      dot(v.profile, items.vectors, at),
      this.#rate(dot(v.liked, items.vectors, at), dot(v.shown, items.vectors, at)).rate,
      recency(it.published, now, this.options.halfLifeHours),
      this.takeUp.rate(it.id),
    ];
  }

  /** xᵀA⁻¹x: how unsure the shared model is of a pair like this. */
  #uncertainty(x: readonly number[]): number {
    let s = 0;
    for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) s += x[i] * this.#aInv[i * D + j] * x[j];
    return Math.max(0, s);
  }

  rank(reader: Reader, items: ItemSet, options: RankOptions): Ranked[] {
    return this.rankWith(reader, items, options, this.#itemTerms(items, options.now));
  }

  /** Ranks many readers over one candidate set, the per-item terms computed once. */
  rankAll(
    readers: readonly Reader[],
    items: ItemSet,
    options: RankOptions & { excludeFor?: (reader: string) => ReadonlySet<string> },
  ): Ranked[][] {
    const terms = this.#itemTerms(items, options.now);
    return readers.map((r) =>
      this.rankWith(r, items, { ...options, exclude: options.excludeFor?.(r.id) ?? options.exclude }, terms),
    );
  }

  rankWith(reader: Reader, items: ItemSet, options: RankOptions, itemTerms: Float32Array): Ranked[] {
    const k = options.k ?? reader.digestSize;
    const scores = this.scores(reader, items, options.now, itemTerms, true);
    const exclude = options.exclude;
    const skip = exclude && ((i: number) => exclude.has(items.items[i].id));
    const shortlist = topK(scores, Math.max(50, this.options.shortlist * k), skip);
    // A shortlist all on one topic cannot fill a digest under the cap: add the best of the
    // topics it holds fewer than the cap of.
    const cap = topicCap(k);
    const held = new Map<number, number>();
    for (const i of shortlist) held.set(items.topics[i], (held.get(items.topics[i]) ?? 0) + 1);
    const inShortlist = new Set(shortlist);
    const room = [...held.values()].reduce((n, c) => n + Math.min(cap, c), 0);
    if (room < k)
      shortlist.push(...topK(scores, k, (i) => skip?.(i) || inShortlist.has(i) || (held.get(items.topics[i]) ?? 0) >= cap));
    const v = this.#readerVectors(reader, items.embedder);
    const final = new Map<number, number>();
    for (const i of shortlist)
      final.set(i, scores[i] + this.options.alpha * Math.sqrt(this.#uncertainty(this.features(v, items, i, options.now))));
    const order = shortlist.sort((a, b) => final.get(b)! - final.get(a)! || a - b);
    return diversify(order, items.topics, k, cap).map((i) => ({ item: items.items[i].id, index: i, score: final.get(i)! }));
  }

  /**
   * Learns from a batch of feedback: each (reader, item) outcome's features are taken with the
   * reader's profile as it was before the batch (the item's own embedding must not be in it),
   * then the model, the profiles and the take-up counts are updated.
   */
  update(feedback: readonly Feedback[], context: UpdateContext): void {
    const { items } = context;
    const dim = items.embedder.dim;
    const readers = new Map(context.readers.map((r) => [r.id, r]));
    const vectors = new Map<string, ReaderVectors>();
    const seen: { o: Outcome; i: number }[] = [];
    for (const o of outcomes(feedback, context.shown)) {
      const i = items.index.get(o.item);
      const reader = readers.get(o.reader);
      if (i === undefined || !reader) continue; // not in this candidate set: nothing to learn it from
      const v = cached(vectors, reader.id, () => this.#readerVectors(reader, items.embedder));
      const x = this.features(v, items, i, o.at);
      for (let a = 0; a < D; a++) {
        this.b[a] += o.reward * x[a];
        for (let c = 0; c < D; c++) this.A[a * D + c] += x[a] * x[c];
      }
      seen.push({ o, i });
    }
    for (const { o, i } of seen) {
      const p = this.#profile(o.reader, dim);
      const e = items.vectors.subarray(i * dim, (i + 1) * dim);
      addScaled(p.shown, e, 1);
      p.shownCount++;
      if (o.reward > 0) {
        addScaled(p.liked, e, o.reward);
        p.likedWeight += o.reward;
      } else if (o.reward < 0) {
        addScaled(p.less, e, 1);
        p.lessCount++;
      }
      this.takeUp.add(o.item, o.reward);
    }
    this.#solve();
  }

  #profile(reader: string, dim: number): ReaderProfile {
    let p = this.profiles.get(reader);
    if (!p || p.liked.length !== dim) {
      const zero = () => new Float32Array(dim);
      p = { liked: zero(), likedWeight: 0, less: zero(), lessCount: 0, shown: zero(), shownCount: 0 };
      this.profiles.set(reader, p);
    }
    return p;
  }

  /**
   * The state as one blob for the store's bandit table: a JSON header (options, A, b, take-up
   * counts, per-reader counts) after its byte length, then each reader's three vectors as float32.
   */
  toBlob(): Uint8Array {
    const readers = [...this.profiles];
    const dim = readers[0]?.[1].liked.length ?? 0;
    const header = new TextEncoder().encode(
      JSON.stringify({
        version: 1,
        options: this.options,
        A: [...this.A],
        b: [...this.b],
        takeUp: [...this.takeUp.counts].map(([id, c]) => [id, c.shown, c.taken]),
        dim,
        readers: readers.map(([id, p]) => [id, p.likedWeight, p.lessCount, p.shownCount]),
      }),
    );
    const start = 4 + header.length + ((4 - (header.length % 4)) % 4);
    const blob = new Uint8Array(start + readers.length * 3 * dim * 4);
    new DataView(blob.buffer).setUint32(0, header.length, true);
    blob.set(header, 4);
    const floats = new Float32Array(blob.buffer, start);
    readers.forEach(([, p], r) => {
      floats.set(p.liked, (3 * r + 0) * dim);
      floats.set(p.less, (3 * r + 1) * dim);
      floats.set(p.shown, (3 * r + 2) * dim);
    });
    return blob;
  }

  static fromBlob(blob: Uint8Array): Ranker {
    const length = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0, true);
    const h = JSON.parse(new TextDecoder().decode(blob.subarray(4, 4 + length)));
    if (h.version !== 1) throw new Error(`unknown ranker state version ${h.version}`);
    const ranker = new Ranker(h.options);
    ranker.A.set(h.A);
    ranker.b.set(h.b);
    for (const [id, shown, taken] of h.takeUp) ranker.takeUp.add(id, taken, shown);
    const start = 4 + length + ((4 - (length % 4)) % 4);
    const floats = new Float32Array(blob.slice(start).buffer);
    const dim: number = h.dim;
    h.readers.forEach(([id, likedWeight, lessCount, shownCount]: [string, number, number, number], r: number) => {
      const part = (n: number) => floats.slice((3 * r + n) * dim, (3 * r + n + 1) * dim);
      ranker.profiles.set(id, { liked: part(0), likedWeight, less: part(1), lessCount, shown: part(2), shownCount });
    });
    ranker.#solve();
    return ranker;
  }
}

function addScaled(into: Float32Array, v: Float32Array, k: number): void {
  for (let j = 0; j < into.length; j++) into[j] += k * v[j];
}

/** Inverse of a small symmetric positive-definite matrix (Gauss–Jordan; A is λI + Σxxᵀ). */
function invert(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    const p = m[c * n + c];
    for (let j = 0; j < n; j++) {
      m[c * n + j] /= p;
      inv[c * n + j] /= p;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      if (f === 0) continue;
      for (let j = 0; j < n; j++) {
        m[r * n + j] -= f * m[c * n + j];
        inv[r * n + j] -= f * inv[c * n + j];
      }
    }
  }
  return inv;
}

// ---------------------------------------------------------------------------------------------
// Baselines: what ours must beat.

/**
 * Most taken up per showing first, discounted by age (half-life 2 days), the same for every
 * reader: Thompson sampling over each item's take-up rate, so new items get shown and the popular ones found (a popularity list
 * that only ever showed its first ten would never learn which others are popular).
 */
class PopularityRanker implements RankingPolicy {
  readonly name = "popularity";
  readonly takeUp = new TakeUp();
  readonly #rng = new Rng(1);
  scores(_reader: Reader, items: ItemSet, now: number): Float32Array {
    return Float32Array.from(items.items, (it) => this.takeUp.rate(it.id) * recency(it.published, now, 48));
  }
  rank(reader: Reader, items: ItemSet, options: RankOptions): Ranked[] {
    const draws = Float32Array.from(
      items.items,
      (it) => this.takeUp.sample(it.id, this.#rng) * recency(it.published, options.now, 48),
    );
    return topOf(draws, items, options.k ?? reader.digestSize, options.exclude);
  }
  update(feedback: readonly Feedback[], context: UpdateContext): void {
    for (const o of outcomes(feedback, context.shown)) this.takeUp.add(o.item, o.reward);
  }
}

/** Newest first. */
class RecencyRanker implements RankingPolicy {
  readonly name = "recency";
  scores(_reader: Reader, items: ItemSet, now: number): Float32Array {
    return Float32Array.from(items.items, (it) => recency(it.published, now, 24));
  }
  rank(reader: Reader, items: ItemSet, options: RankOptions): Ranked[] {
    return topOf(this.scores(reader, items, options.now), items, options.k ?? reader.digestSize, options.exclude);
  }
  update(): void {}
}

/** Closest to the stated interests first; learns nothing. */
class ContentRanker implements RankingPolicy {
  readonly name = "content";
  scores(reader: Reader, items: ItemSet): Float32Array {
    const v = statedVector(items.embedder, reader.interests);
    return Float32Array.from(items.items, (_, i) => dot(v, items.vectors, i * items.embedder.dim));
  }
  rank(reader: Reader, items: ItemSet, options: RankOptions): Ranked[] {
    return topOf(this.scores(reader, items), items, options.k ?? reader.digestSize, options.exclude);
  }
  update(): void {}
}

/** Fresh baselines (popularity keeps its own counts, so each run wants its own). */
export function baselineRankers(): RankingPolicy[] {
  return [new PopularityRanker(), new RecencyRanker(), new ContentRanker()];
}
