// Near-duplicate news across sources: the same announcement from two feeds, the changelog that
// apt, libapt-pkg6.0 and apt-transport-https each ship, the binNMU "Rebuild for outdated
// Built-Using" entry of seventy packages.
//
// Similarity is the Jaccard index of two texts' word 5-shingles (lowercased, punctuation
// dropped; each Han / kana character counts as a word, Chinese and Japanese having no spaces).
// Candidates come from MinHash (64 hashes) with LSH banding, and each candidate is confirmed
// with the exact Jaccard index of the shingle sets, so an item is only ever dropped for a
// confirmed near-duplicate. An item is compared with the items kept so far, in order of
// publication (ties: input order), so of each group the earliest is kept, and dedupe is
// idempotent: run again on what it kept, it keeps it all.
//
// Short texts (fewer than MIN_SHINGLES shingles: under 12 words) are too short to tell one story
// from another by their words: "New upstream release." is the whole entry of a hundred packages'
// changelogs, and each is different news. Those compare by exact normalized title + text, so
// the same short item from two feeds is a duplicate and two packages' "New upstream release."
// are not. Longer texts compare by text alone: the same story under two headlines is a
// duplicate, and so is one long boilerplate entry (a binNMU rebuild) across packages, which a
// digest should not show seventy times.

import type { NewsItem } from "./types.js";

export interface DedupeOptions {
  /** Items whose shingle sets have a Jaccard index at least this are duplicates. Default 0.7. */
  threshold?: number;
}

export interface Duplicate {
  /** The item left out. */
  id: string;
  /** The kept item it duplicates. */
  of: string;
  /** Their Jaccard index (1 for short texts, which match exactly). */
  similarity: number;
}

export interface DedupeResult {
  /** Items kept, in input order. */
  kept: NewsItem[];
  /** Items left out, in input order. */
  duplicates: Duplicate[];
}

export const DEFAULT_DEDUPE_THRESHOLD = 0.7;
const SHINGLE_WORDS = 5;
/** Texts with fewer shingles compare by exact normalized title + text. */
export const MIN_SHINGLES = 8;
const NUM_HASHES = 64;
/** LSH must propose a pair at the threshold with at least this probability. */
const TARGET_RECALL = 0.98;

/** Words: runs of letters / digits, except that each Han or kana character is a word of its own. */
const WORD = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}]|(?:(?![\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}])[\p{L}\p{N}\p{M}])+/gu;

/** The same words for ASCII text (most of it), without Unicode property classes, which cost three times as much. */
const ASCII_WORD = /[a-z0-9]+/g;

/** A text's words, lowercased: letters and digits, every other character a separator. */
export function words(text: string): string[] {
  const lower = text.toLowerCase();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the whole ASCII range is meant
  return lower.match(/^[\u0000-\u007f]*$/.test(lower) ? ASCII_WORD : WORD) ?? [];
}

/** 32-bit FNV-1a of a string. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** murmur3's finalizer: a bijection on 32 bits that mixes every bit into every other. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The sorted, distinct hashes of a text's word 5-shingles. */
export function shingles(text: string): Uint32Array {
  const hashes = words(text).map(hashString);
  const count = hashes.length - SHINGLE_WORDS + 1;
  if (count <= 0) return new Uint32Array(0);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    let h = 0x9747b28c;
    for (let k = 0; k < SHINGLE_WORDS; k++) h = mix((h ^ hashes[i + k]) + k);
    out[i] = h;
  }
  out.sort();
  let distinct = 0;
  for (let i = 0; i < out.length; i++) if (i === 0 || out[i] !== out[i - 1]) out[distinct++] = out[i];
  return out.subarray(0, distinct);
}

/** The Jaccard index of two sorted sets of distinct hashes. */
export function jaccard(a: Uint32Array, b: Uint32Array): number {
  if (a.length === 0 && b.length === 0) return 1;
  let i = 0;
  let j = 0;
  let both = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      both++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return both / (a.length + b.length - both);
}

const SEEDS = Uint32Array.from({ length: NUM_HASHES }, (_, i) => mix(0x5bd1e995 + i * 0x9e3779b9));

function minHash(set: Uint32Array): Uint32Array {
  const signature = new Uint32Array(NUM_HASHES).fill(0xffffffff);
  for (let s = 0; s < set.length; s++) {
    const x = set[s];
    for (let i = 0; i < NUM_HASHES; i++) {
      const h = mix(x ^ SEEDS[i]);
      if (h < signature[i]) signature[i] = h;
    }
  }
  return signature;
}

/** Rows per LSH band: the most (fewest false candidates) that still finds a pair at `threshold` with TARGET_RECALL. */
function rowsPerBand(threshold: number): number {
  for (const rows of [8, 4, 2]) {
    const bands = NUM_HASHES / rows;
    if (1 - (1 - threshold ** rows) ** bands >= TARGET_RECALL) return rows;
  }
  return 1;
}

/**
 * The items with near-duplicates left out: of each group the earliest published (ties: the one
 * first in `items`) is kept. See the top of this file for the rule.
 */
export function dedupe(items: readonly NewsItem[], options: DedupeOptions = {}): DedupeResult {
  const threshold = options.threshold ?? DEFAULT_DEDUPE_THRESHOLD;
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`threshold must be in (0, 1], got ${threshold}`);
  const rows = rowsPerBand(threshold);
  const bands = NUM_HASHES / rows;

  const order = items.map((_, i) => i).sort((a, b) => items[a].published - items[b].published || a - b);
  const keptByShortKey = new Map<string, number>();
  // a kept item with the very same shingle set is a duplicate at 1, found without MinHash (the
  // common case: one changelog shipped by several packages); being the first kept with that
  // set, it is also the earliest of the equally similar
  const keptBySet = new Map<string, number>();
  const buckets: Map<number, number[]>[] = Array.from({ length: bands }, () => new Map());
  const sets: Uint32Array[] = new Array(items.length);
  const duplicateOf = new Map<number, { of: number; similarity: number }>();
  const lastChecked = new Int32Array(items.length).fill(-1);
  const rank = new Int32Array(items.length);
  order.forEach((index, position) => {
    rank[index] = position;
  });

  for (const index of order) {
    const item = items[index];
    const set = shingles(item.text);
    if (set.length < MIN_SHINGLES) {
      const key = `${words(item.title).join(" ")}\u0000${words(item.text).join(" ")}`;
      const kept = keptByShortKey.get(key);
      if (kept === undefined) keptByShortKey.set(key, index);
      else duplicateOf.set(index, { of: kept, similarity: 1 });
      continue;
    }
    const setKey = Buffer.from(set.buffer, set.byteOffset, set.byteLength).toString("latin1");
    const same = keptBySet.get(setKey);
    if (same !== undefined) {
      duplicateOf.set(index, { of: same, similarity: 1 });
      continue;
    }
    sets[index] = set;
    const signature = minHash(set);
    const keys: number[] = [];
    let best: { of: number; similarity: number } | undefined;
    for (let band = 0; band < bands; band++) {
      // a band's rows hashed to one number: a collision only adds a candidate, which Jaccard then rejects
      let key = band;
      for (let row = band * rows; row < (band + 1) * rows; row++) key = mix(key ^ signature[row]);
      keys.push(key);
      for (const candidate of buckets[band].get(key) ?? []) {
        if (lastChecked[candidate] === index) continue;
        lastChecked[candidate] = index;
        const similarity = jaccard(set, sets[candidate]);
        if (
          similarity < threshold ||
          (best && (similarity < best.similarity || (similarity === best.similarity && rank[candidate] > rank[best.of])))
        )
          continue;
        best = { of: candidate, similarity }; // the most similar kept item; of equals, the earliest
      }
    }
    if (best) {
      duplicateOf.set(index, best);
      continue;
    }
    keptBySet.set(setKey, index);
    // only kept items go in the buckets: a group of a thousand copies costs a thousand lookups, not a million pairs
    keys.forEach((key, band) => {
      const bucket = buckets[band].get(key);
      if (bucket) bucket.push(index);
      else buckets[band].set(key, [index]);
    });
  }

  const kept: NewsItem[] = [];
  const duplicates: Duplicate[] = [];
  items.forEach((item, index) => {
    const duplicate = duplicateOf.get(index);
    if (!duplicate) kept.push(item);
    else duplicates.push({ id: item.id, of: items[duplicate.of].id, similarity: duplicate.similarity });
  });
  return { kept, duplicates };
}
