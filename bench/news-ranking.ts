// The news ranker against its baselines, on simulated readers (test/news/simulatedReaders.ts):
//   - the learning curve: each day's nDCG@10, MRR@10 and AUC for ours and for the popularity,
//     recency and content-only baselines (the anchors, run in the same simulation on the same
//     readers and items, each learning only from the clicks on its own digests), and ours /
//     the best baseline per day (target: above 1 on nDCG and MRR from day 5 on);
//   - speed: ranking every reader over a 5,000-item collection (median of --rounds), after
//     embedding and clustering it once; the digest's budget is 60 s for 1,000 × 5,000 on 2
//     cores, summaries are cached per item at ingest, so ranking should take ≤ 15 s of it.
//
//   node --import tsx bench/news-ranking.ts [--readers 1000] [--days 20] [--items-per-day 250]
//     [--rounds 3] [--json]
// The last line is JSON: { days: [{ day, ours: {ndcg, mrr, auc}, popularity: …, … }], rank: … }.

import { parseArgs } from "node:util";
import { TextEmbedder } from "../src/apps/news/embed.js";
import { baselineRankers, FEATURES, itemSet, itemText, Ranker } from "../src/apps/news/rank.js";
import type { Feedback } from "../src/apps/news/types.js";
import { type DayMetrics, SimulatedWorld, simulate } from "../test/news/simulatedReaders.js";

const { values } = parseArgs({
  options: {
    readers: { type: "string", default: "1000" },
    days: { type: "string", default: "20" },
    "items-per-day": { type: "string", default: "250" },
    rounds: { type: "string", default: "3" },
    seed: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
const readers = Number(values.readers);
const days = Number(values.days);
const itemsPerDay = Number(values["items-per-day"]);
const rounds = Number(values.rounds);
const seed = Number(values.seed);
const log = (line: string) => {
  if (!values.json) console.log(line);
};

// --- The learning curve -------------------------------------------------------------------
const names = ["ours", "popularity", "recency", "content"];
const cell = (m: DayMetrics) => `${m.ndcg.toFixed(3)} ${m.mrr.toFixed(3)} ${m.auc.toFixed(3)}`;
log(`${readers} simulated readers, ${itemsPerDay} new items a day, digests of 10 from the last 2 days`);
log(`nDCG@10 MRR@10 AUC per policy; ratio = ours / best baseline (nDCG, MRR)`);
log(`day  ${names.map((n) => n.padEnd(18)).join(" ")} ratio`);
const t0 = performance.now();
const curve = simulate([new Ranker(), ...baselineRankers()], {
  seed,
  readers,
  days,
  itemsPerDay,
  auc: true,
  onDay: (day, m) => {
    const best = (key: "ndcg" | "mrr") => Math.max(...names.slice(1).map((n) => m[n][key]));
    const ratio = `${(m.ours.ndcg / best("ndcg")).toFixed(2)} ${(m.ours.mrr / best("mrr")).toFixed(2)}`;
    log(`${String(day).padStart(3)}  ${names.map((n) => cell(m[n]).padEnd(18)).join(" ")} ${ratio}`);
  },
});
const simSeconds = (performance.now() - t0) / 1000;
const firstWin = curve.days.findIndex((_, d) =>
  curve.days.slice(d).every((m) => names.slice(1).every((n) => m.ours.ndcg > m[n].ndcg && m.ours.mrr > m[n].mrr)),
);
log(`ours beats every baseline on nDCG and MRR from day ${firstWin < 0 ? "never" : firstWin + 1} on (target: 5)`);
log(`simulation: ${simSeconds.toFixed(1)} s`);

// --- Ranking time: every reader over 5,000 items --------------------------------------------
const collection = Math.max(5000, itemsPerDay);
const world = new SimulatedWorld({ seed, readers, itemsPerDay: collection });
const items = world.addDay(1);
const now = world.now(1);
const tEmbed = performance.now();
const embedder = new TextEmbedder().fit(items.map(itemText));
const set = itemSet(items, embedder);
const embedSeconds = (performance.now() - tEmbed) / 1000;
// A ranker with feedback behind it, so every reader has a profile to score with.
const ranker = new Ranker();
const feedback: Feedback[] = [];
const warm = ranker.rankAll(
  world.readers.map((r) => r.reader),
  set,
  { now, k: 10 },
);
const shown = warm.flatMap((digest, r) => {
  const out = world.respond(
    r,
    digest.map((x) => set.items[x.index]),
    now,
  );
  feedback.push(...out.feedback);
  return out.shown;
});
ranker.update(feedback, { items: set, readers: world.readers.map((r) => r.reader), shown });
const times: number[] = [];
for (let round = 0; round < rounds; round++) {
  const t = performance.now();
  ranker.rankAll(
    world.readers.map((r) => r.reader),
    set,
    { now, k: 10 },
  );
  times.push((performance.now() - t) / 1000);
}
const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
log(
  `ranking ${readers} readers over ${collection} items: ${median.toFixed(2)} s (median of ${rounds}; target ≤ 15 s), ` +
    `${((median / readers) * 1000).toFixed(2)} ms a reader; embedding + topics once: ${embedSeconds.toFixed(2)} s`,
);
log(`learned weights after one day (${FEATURES.join(", ")}): ${ranker.weights.map((w) => w.toFixed(3)).join(" ")}`);

console.log(
  JSON.stringify({
    readers,
    itemsPerDay,
    days: curve.days.map((m, d) => ({ day: d + 1, ...m })),
    beatsEveryBaselineFromDay: firstWin < 0 ? null : firstWin + 1,
    rank: { readers, items: collection, seconds: median, rounds: times, embedSeconds },
    simulationSeconds: simSeconds,
  }),
);
