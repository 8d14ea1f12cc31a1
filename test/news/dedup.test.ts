// Near-duplicate detection: the same story under two sources, the short-text rule, the
// earliest kept, properties against a brute-force oracle, and speed on the real Debian
// changelogs (where many binary packages ship their source package's changelog).

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { DEFAULT_DEDUPE_THRESHOLD, dedupe, MIN_SHINGLES, words } from "../../src/apps/news/dedup.js";
import { readReleaseNotes } from "../../src/apps/news/releaseNotes.js";
import type { NewsItem } from "../../src/apps/news/types.js";
import { DOC_DIR } from "../../src/data/index.js";

let nextId = 0;
function item(fields: Partial<NewsItem> & { text: string }): NewsItem {
  const id = fields.id ?? `item-${nextId++}`;
  return { id, source: "https://a.example/feed", sourceTitle: "A", title: id, published: 0, lang: "en", ...fields };
}

const STORY =
  "The toolchain team released version 4.2 today. Incremental builds are up to forty percent faster on large workspaces, " +
  "thanks to a new dependency cache that survives header edits. The release also changes the default job count to match the machine.";

test("the same story from two sources is a duplicate of the earlier one; other stories are kept", () => {
  const early = item({
    id: "a",
    source: "https://a.example/feed",
    title: "Toolchain 4.2 released",
    text: STORY,
    published: 1000,
  });
  const late = item({
    id: "b",
    source: "https://b.example/rss",
    title: "Announcing Toolchain 4.2!",
    // another site's copy: a byline and a footer more
    text: `By the newsroom. ${STORY} This post first appeared on the project's blog.`,
    published: 2000,
  });
  const other = item({
    id: "c",
    title: "Survey results",
    text: "Of 1,204 answers, 62 percent ship vendored dependencies and 38 percent do not, the survey found this spring.",
  });
  const result = dedupe([late, other, early]);
  assert.deepEqual(
    result.kept.map((i) => i.id),
    ["c", "a"],
  );
  assert.equal(result.duplicates.length, 1);
  assert.equal(result.duplicates[0].id, "b");
  assert.equal(result.duplicates[0].of, "a");
  assert.ok(result.duplicates[0].similarity >= DEFAULT_DEDUPE_THRESHOLD && result.duplicates[0].similarity < 1);
  // case and punctuation do not matter
  const shouted = item({ id: "d", text: STORY.toUpperCase().replace(/[.,]/g, " ; "), published: 3000 });
  assert.deepEqual(dedupe([early, shouted]).duplicates, [{ id: "d", of: "a", similarity: 1 }]);
});

test("ties in publication time: the first seen is kept", () => {
  const first = item({ id: "first", text: STORY, published: 5 });
  const second = item({ id: "second", text: STORY, published: 5 });
  assert.deepEqual(dedupe([first, second]).duplicates, [{ id: "second", of: "first", similarity: 1 }]);
  assert.deepEqual(dedupe([second, first]).duplicates, [{ id: "first", of: "second", similarity: 1 }]);
});

test("short texts compare by title + text: the same short item twice is a duplicate, two packages' 'New upstream release.' are not", () => {
  const bash = item({ title: "bash 5.2.15-1", text: "New upstream release." });
  const coreutils = item({ title: "coreutils 9.1-1", text: "New upstream release." });
  const bashAgain = item({
    title: "Bash 5.2.15-1",
    text: "new upstream release",
    source: "https://mirror.example/feed",
    published: 10,
  });
  const result = dedupe([bash, coreutils, bashAgain]);
  assert.deepEqual(
    result.kept.map((i) => i.id),
    [bash.id, coreutils.id],
  );
  assert.deepEqual(result.duplicates, [{ id: bashAgain.id, of: bash.id, similarity: 1 }]);
  // long boilerplate is the same text whatever the title: one of the seventy binNMU rebuilds is enough
  const rebuild =
    "Binary-only non-maintainer upload for amd64; no source changes. Rebuild for outdated Built-Using (glibc/2.36-9+deb12u5)";
  assert.ok(words(rebuild).length - 4 >= MIN_SHINGLES);
  const rebuilds = dedupe([
    item({ title: "bash 5.2.15-2+b8", text: rebuild }),
    item({ title: "bzip2 1.0.8-5+b1", text: rebuild }),
  ]);
  assert.equal(rebuilds.kept.length, 1);
});

test("Chinese text: each character is a word, so near-duplicates are found without spaces", () => {
  const text = "编译器团队今天发布了四点二版本，大型工作区的增量构建速度提高了百分之四十，新的依赖缓存在修改头文件后仍然有效。";
  const result = dedupe([item({ text, published: 1 }), item({ text: `${text}原文刊登于项目博客。`, published: 2 })]);
  assert.equal(result.kept.length, 1);
  assert.ok(result.duplicates[0].similarity > 0.7);
});

test("rejects a threshold outside (0, 1]", () => {
  assert.throws(() => dedupe([], { threshold: 0 }), /threshold must be in \(0, 1\]/);
  assert.throws(() => dedupe([], { threshold: 1.5 }), RangeError);
});

// ---------------------------------------------------------------------------------------------
// Properties, against a brute-force oracle: string shingles, exact Jaccard, every pair

function oracleShingles(text: string): Set<string> {
  const w = words(text);
  const set = new Set<string>();
  for (let i = 0; i + 5 <= w.length; i++) set.add(w.slice(i, i + 5).join(" "));
  return set;
}

function oracleSimilarity(a: NewsItem, b: NewsItem): number {
  const sa = oracleShingles(a.text);
  const sb = oracleShingles(b.text);
  if (sa.size < MIN_SHINGLES || sb.size < MIN_SHINGLES) {
    if (sa.size < MIN_SHINGLES !== sb.size < MIN_SHINGLES) return 0;
    const key = (i: NewsItem) => `${words(i.title).join(" ")}\u0000${words(i.text).join(" ")}`;
    return key(a) === key(b) ? 1 : 0;
  }
  let both = 0;
  for (const s of sa) if (sb.has(s)) both++;
  return both / (sa.size + sb.size - both);
}

/** Items over a small vocabulary, many of them edited copies of others, so near-duplicates are common. */
const itemsArbitrary = fc
  .array(
    fc.record({
      base: fc.array(fc.constantFrom("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"), {
        minLength: 0,
        maxLength: 40,
      }),
      copies: fc.array(
        fc.record({
          cut: fc.nat(),
          insert: fc.constantFrom("", "omega", "sigma tau"),
          published: fc.integer({ min: 0, max: 5 }),
        }),
        { maxLength: 3 },
      ),
      title: fc.constantFrom("t1", "t2"),
      published: fc.integer({ min: 0, max: 5 }),
    }),
    { maxLength: 25 },
  )
  .map((groups) => {
    const out: NewsItem[] = [];
    groups.forEach((group, g) => {
      out.push(item({ id: `g${g}`, title: group.title, text: group.base.join(" "), published: group.published }));
      group.copies.forEach((copy, c) => {
        const edited: string[] = [...group.base];
        const at = edited.length === 0 ? 0 : copy.cut % edited.length;
        edited.splice(at, 1, ...(copy.insert ? [copy.insert] : []));
        out.push(item({ id: `g${g}c${c}`, title: group.title, text: edited.join(" "), published: copy.published }));
      });
    });
    return out;
  });

test("property: an item is only dropped for a real near-duplicate, kept earlier, and never one without", () => {
  fc.assert(
    fc.property(itemsArbitrary, fc.constantFrom(0.5, 0.7, 0.9), (items, threshold) => {
      const { kept, duplicates } = dedupe(items, { threshold });
      assert.equal(kept.length + duplicates.length, items.length);
      const byId = new Map(items.map((i) => [i.id, i]));
      const keptIds = new Set(kept.map((i) => i.id));
      for (const d of duplicates) {
        const dup = byId.get(d.id)!;
        const of = byId.get(d.of)!;
        assert.ok(keptIds.has(d.of), "a duplicate points at a kept item");
        assert.ok(of.published <= dup.published, "the earlier one is kept");
        assert.ok(Math.abs(oracleSimilarity(dup, of) - d.similarity) < 1e-9, "the similarity reported is the exact one");
        assert.ok(d.similarity >= threshold);
      }
      for (const i of items) {
        const hasNearDuplicate = items.some((other) => other !== i && oracleSimilarity(i, other) >= threshold);
        if (!hasNearDuplicate) assert.ok(keptIds.has(i.id), `${i.id} has no near-duplicate but was dropped`);
      }
    }),
    { numRuns: 300 },
  );
});

test("property: dedupe is idempotent", () => {
  fc.assert(
    fc.property(itemsArbitrary, fc.constantFrom(0.5, 0.7, 0.9), (items, threshold) => {
      const once = dedupe(items, { threshold });
      const twice = dedupe(once.kept, { threshold });
      assert.deepEqual(twice.kept, once.kept);
      assert.deepEqual(twice.duplicates, []);
    }),
    { numRuns: 300 },
  );
});

test("speed: 10,000 real changelog entries in well under a few seconds; all of /usr/share/doc too", (t) => {
  const items = readReleaseNotes(DOC_DIR);
  assert.ok(items.length >= 10_000, `${items.length} items`);
  let started = performance.now();
  const ten = dedupe(items.slice(0, 10_000));
  const tenMs = performance.now() - started;
  assert.ok(tenMs < 3000, `${tenMs} ms for 10,000 items`);
  started = performance.now();
  const all = dedupe(items);
  const allMs = performance.now() - started;
  t.diagnostic(
    `10,000 items: ${ten.duplicates.length} duplicates in ${tenMs.toFixed(0)} ms; all ${items.length}: ${all.duplicates.length} duplicates, ${all.kept.length} kept, in ${allMs.toFixed(0)} ms`,
  );
  // many binary packages ship their source package's changelog: those are duplicates
  assert.ok(all.duplicates.length > items.length / 10);
  assert.deepEqual(dedupe(all.kept).duplicates, []);
});
