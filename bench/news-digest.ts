// Digests for many readers over a real item store, end to end through the Newsroom (SQLite on
// disk, ranking with the bandit and the topic cap, summaries written and cached, impressions
// recorded): the "1,000 readers over 5,000 items in ≤ 60 s on 2 cores".
//
// Items: the Debian release notes under /usr/share/doc (deduplicated), the newest --items of
// them the candidates. Readers: stated interests of 2–4 words drawn from those items' package
// names and frequent words (seeded), lengths mixed. Summaries come from the items' own
// sentences (the extractive writer, checked like a model's) — what a digest costs once the
// summaries exist; how long a model takes per summary is measured on --model-sample items
// through the shipped chat model, and the time a model-written first run would take is
// printed as that rate times the summaries written (an estimate, labelled as one).
//
// Usage: node --import tsx bench/news-digest.ts [--readers 1000] [--items 5000] [--model-sample 12]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Newsroom, newsApp } from "../src/apps/index.js";
import { injectFetch } from "../src/apps/news/http.js";
import { openAiChatBackend, summarizeItem } from "../src/apps/news/summarize.js";
import { Rng } from "../src/runtime/index.js";
import { buildApp, createPlatform, serverConfigSchema } from "../src/serve/index.js";

const { values } = parseArgs({
  options: {
    readers: { type: "string", default: "1000" },
    items: { type: "string", default: "5000" },
    "model-sample": { type: "string", default: "12" },
  },
});
const readers = Number(values.readers);
const maxCandidates = Number(values.items);

const dir = mkdtempSync(join(tmpdir(), "news-digest-"));
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
try {
  const newsroom = Newsroom.open({ db: join(dir, "news.db"), maxCandidates });
  let t0 = performance.now();
  const ingest = newsroom.ingest("/usr/share/doc");
  const ingestSeconds = seconds(t0);
  const candidates = newsroom.store.items({ limit: maxCandidates });

  // Interests from what the items are about: package names and frequent longer words.
  const rng = new Rng(7);
  const vocabulary = [
    ...new Set(candidates.flatMap((i) => [i.sourceTitle, ...(i.text.toLowerCase().match(/[a-z][a-z0-9+-]{4,}/g) ?? [])])),
  ];
  const lengths = ["short", "medium", "long"] as const;
  for (let r = 0; r < readers; r++) {
    const words = Array.from({ length: 2 + rng.int(3) }, () => vocabulary[rng.int(vocabulary.length)]);
    newsroom.addReader({ id: `reader-${r}`, interests: words.join(", "), length: lengths[r % 3] });
  }

  const run = async () => {
    const perDigest: number[] = [];
    const start = performance.now();
    for (let r = 0; r < readers; r++) {
      const t = performance.now();
      const d = await newsroom.digest(`reader-${r}`);
      if (d.items.length === 0) throw new Error(`reader-${r}: an empty digest`);
      perDigest.push(performance.now() - t);
    }
    return { seconds: seconds(start), p50: quantile(perDigest, 0.5), p95: quantile(perDigest, 0.95) };
  };
  t0 = performance.now();
  const first = await run(); // writes every chosen item's summary once
  const written = new Set(newsroom.store.impressionsSince(0).map((s) => s.item)).size;
  const second = await run(); // next day: summaries cached, the ranker has learned from day one's impressions

  // A model's cost per summary: the shipped chat model through the server's own API.
  const sample = Number(values["model-sample"]);
  let modelSecondsPerSummary: number | undefined;
  let modelShare: number | undefined;
  if (sample > 0) {
    const platform = await createPlatform(serverConfigSchema.parse({}), { threads: 2 });
    const app = await buildApp({ platform, apps: [newsApp({ newsroom })] });
    const backend = openAiChatBackend({ baseUrl: "http://in-process", model: "aigc-chat", fetch: injectFetch(app, undefined) });
    const t = performance.now();
    let model = 0;
    for (const item of candidates.slice(0, sample)) {
      const s = await summarizeItem(item, { backend, length: "medium", lang: "en" });
      if (s.method === "model") model++;
    }
    modelSecondsPerSummary = seconds(t) / sample;
    modelShare = model / sample;
    await app.close();
    await platform.close();
  }
  newsroom.close();

  console.log(
    `store: ${ingest.files} release-notes files, ${ingest.read} entries, ${ingest.added} items after deduplication (${ingestSeconds.toFixed(1)} s); candidates: the newest ${candidates.length}`,
  );
  console.log(`readers: ${readers}`);
  console.log(
    `first run  (summaries written, extractive): ${first.seconds.toFixed(1)} s for ${readers} digests (target ≤ 60 s), p50 ${first.p50.toFixed(1)} ms, p95 ${first.p95.toFixed(1)} ms a digest; ${written} distinct items summarized`,
  );
  console.log(
    `second run (summaries cached, ranker updated): ${second.seconds.toFixed(1)} s, p50 ${second.p50.toFixed(1)} ms, p95 ${second.p95.toFixed(1)} ms a digest`,
  );
  if (modelSecondsPerSummary !== undefined)
    console.log(
      `model writer (aigc-chat, ${sample} items, up to 3 attempts each): ${modelSecondsPerSummary.toFixed(2)} s a summary, ${(100 * modelShare!).toFixed(0)}% passed the check; a first run written by it would add ≈ ${((written * modelSecondsPerSummary) / 60).toFixed(0)} min (estimate: rate × ${written} summaries)`,
    );
  console.log(
    JSON.stringify({
      readers,
      candidates: candidates.length,
      first,
      second,
      written,
      modelSecondsPerSummary,
      modelShare,
      ingestSeconds,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
