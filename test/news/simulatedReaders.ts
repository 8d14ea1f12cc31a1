// Simulated readers, to measure the news ranker without real users.
//
// The world. K hidden topics, each a list of real words of software news (kernel, networking,
// security, Python, Rust, the web, databases, the desktop, Debian packaging, machine
// learning, audio and video, operations), some words shared between topics the way "gpu" or
// "async" are. Every day `itemsPerDay` items arrive, published at random times over the past
// 24 hours: each has a main topic (sometimes a second one), a hidden quality, a title and a
// body drawn from its topics' words and general release-note words. The generator writes
// items from these word lists rather than reading /usr/share/doc, so it runs anywhere in
// milliseconds and gives the same items for the same seed.
//
// The readers. Each has a hidden taste: a Dirichlet(α) mixture over the K topics. The ranker
// never sees it; it sees only (a) a stated-interests string of a few words of the reader's
// likelier topics, often with a word of a topic they do not care for, and (b) the feedback
// sampled from the digests it served.
//
// Clicks. A reader's relevance of an item (the chance they would take it up if they saw it)
// is (0.03 + 0.7 · affinity) · freshness · (0.6 + 0.8 · quality), capped at 0.95, where
// affinity is the dot product of taste and the item's topic mix and freshness halves every
// two days. Position bias follows the examination model: the item at position p (0-based) is
// looked at with probability 1 / log2(p + 2). A looked-at item is clicked if the reader's
// would-click draw says so (click + dwell, seconds growing with affinity); a looked-at,
// unclicked item is sometimes opened (0.5 · relevance) and, if far from the reader's taste
// (affinity < 0.05), sometimes marked "less like this" (0.2). Each (reader, item) draw is a
// hash of the seed and their ids, so every policy faces the same reader: the comparison is
// paired (common random numbers) and reproducible.
//
// The day loop (`simulate`). Each day every policy, in its own world (it learns only from the
// clicks on its own digests), ranks the items of the last `windowDays` days for every reader,
// excluding what it already showed them; its digest of 10 is scored against the hidden truth
// before any clicks: nDCG@10 with the relevance as gain, MRR@10 and AUC over all candidates
// with the would-click draws as labels. Then clicks are sampled and the feedback goes back.

import { TextEmbedder } from "../../src/apps/news/embed.js";
import { type ItemSet, itemSet, itemText, type RankingPolicy } from "../../src/apps/news/rank.js";
import type { Impression } from "../../src/apps/news/store.js";
import type { Feedback, NewsItem, Reader } from "../../src/apps/news/types.js";
import { hash32, Rng } from "../../src/runtime/index.js";

export const DAY = 86_400_000;

const words = (list: string): readonly string[] => list.split(" ");

/** The hidden topics' words: real words of software release notes and news, a few shared. */
export const TOPIC_WORDS: Readonly<Record<string, readonly string[]>> = {
  kernel: words(
    "kernel scheduler driver module interrupt syscall memory paging cgroup ebpf filesystem ext4 btrfs mount boot firmware acpi irq numa preemption cache lockdep",
  ),
  networking: words(
    "network tcp udp socket dns dhcp firewall nftables routing ipv6 wifi bluetooth vpn wireguard bandwidth latency packet ethernet proxy congestion stream tls",
  ),
  security: words(
    "security vulnerability cve exploit openssl certificate tls encryption signature gpg sandbox apparmor selinux password authentication advisory overflow privilege audit fuzzing hardening patch",
  ),
  python: words(
    "python pip wheel virtualenv django flask numpy pandas asyncio typing interpreter bytecode pytest setuptools poetry cython jupyter pypi dataclass async gil import",
  ),
  rust: words(
    "rust cargo crate borrow lifetime trait rustc clippy tokio async unsafe macro ownership compiler llvm wasm serde rustup generics enum edition borrowck",
  ),
  web: words(
    "javascript typescript node npm browser react webpack bundler dom css html chromium firefox eslint deno esm promise fetch websocket vite compiler wasm",
  ),
  databases: words(
    "database sql postgres sqlite mysql index query transaction replication backup schema migration vacuum join redis cache sharding wal cursor table planner mvcc",
  ),
  desktop: words(
    "desktop gnome kde wayland xorg mesa vulkan opengl gpu font theme icon window compositor display monitor screen gtk qt hidpi touchpad keyboard",
  ),
  packaging: words(
    "debian package apt dpkg repository mirror upstream maintainer changelog lintian dependency tarball snapshot backport unstable sid bookworm trixie binary archive reproducible debhelper",
  ),
  ml: words(
    "model neural training inference gpu tensor transformer dataset embedding gradient quantization onnx pytorch token attention benchmark accuracy checkpoint finetuning llm lora cuda",
  ),
  media: words(
    "audio video codec pulseaudio pipewire alsa ffmpeg gstreamer mp3 opus microphone speaker stream playback subtitle camera webcam volume sound midi av1 h264",
  ),
  ops: words(
    "container docker kubernetes cluster deploy pipeline terraform ansible cloud server systemd service journal monitoring prometheus logging autoscaling node helm yaml podman ingress",
  ),
};

/** Words any release note uses, whatever it is about. */
export const GENERAL_WORDS: readonly string[] = words(
  "release version update fix bug support improve change feature issue add remove default option performance documentation test build user configuration error warning crash regression upgrade minor major project team announce available faster better work file command tool library api platform developers stable security community",
);

const SOURCES = ["Planet Changelog", "Weekly Release Notes", "Open Source Digest", "Dev News Daily", "Patch Tuesday"];

export interface SimOptions {
  seed?: number;
  readers?: number;
  itemsPerDay?: number;
  /** Dirichlet concentration of the readers' tastes (smaller: fewer topics each). */
  alpha?: number;
}

export interface SimReader {
  reader: Reader;
  /** The hidden taste: a mixture over the topics, summing to 1. Never shown to a ranker. */
  taste: Float64Array;
}

/** Gamma(shape, 1) draw (Marsaglia–Tsang; shape < 1 boosted), for the Dirichlet. */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * (1 - rng.next()) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal();
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

export function dirichlet(rng: Rng, k: number, alpha: number): Float64Array {
  const g = Float64Array.from({ length: k }, () => gamma(rng, alpha));
  const sum = g.reduce((a, b) => a + b, 0);
  return g.map((x) => x / sum);
}

/** An index drawn with probability ∝ its weight. */
function categorical(rng: Rng, weights: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i];
  let r = rng.next() * total;
  for (let i = 0; i < weights.length - 1; i++) {
    r -= weights[i];
    if (r < 0) return i;
  }
  return weights.length - 1;
}

/** A uniform in [0, 1) that is a pure function of integers. */
const hashUniform = (...parts: number[]) => hash32(...parts) / 4294967296;

export class SimulatedWorld {
  readonly topics = Object.keys(TOPIC_WORDS);
  readonly readers: SimReader[];
  readonly items: NewsItem[] = [];
  readonly seed: number;
  readonly itemsPerDay: number;
  readonly start = Date.UTC(2025, 0, 1);
  /** Hidden per item: topic mix and quality, by item id. */
  readonly #hidden = new Map<string, { serial: number; mix: Float64Array; quality: number }>();

  constructor(options: SimOptions = {}) {
    this.seed = options.seed ?? 1;
    this.itemsPerDay = options.itemsPerDay ?? 250;
    const rng = Rng.fromParts(this.seed, 1);
    const k = this.topics.length;
    this.readers = Array.from({ length: options.readers ?? 1000 }, (_, i) => {
      const taste = dirichlet(rng, k, options.alpha ?? 0.4);
      return { reader: this.#reader(`r${i}`, taste, rng), taste };
    });
  }

  /** Stated interests: two words each of two topics drawn by taste, often one wrong word. */
  #reader(id: string, taste: Float64Array, rng: Rng): Reader {
    const chosen: number[] = [];
    for (let tries = 0; chosen.length < 2; tries++) {
      // A taste all on one topic (possible for a small α) gets its second topic at random.
      const t = tries < 50 ? categorical(rng, taste) : rng.int(taste.length);
      if (!chosen.includes(t)) chosen.push(t);
    }
    const parts = chosen.map((t) => {
      const words = TOPIC_WORDS[this.topics[t]];
      const a = rng.pick(words);
      const b = rng.pick(words.filter((w) => w !== a));
      return `${a} ${b}`;
    });
    const unloved = this.topics.map((_, t) => t).filter((t) => taste[t] < 0.05);
    if (unloved.length > 0 && rng.chance(0.6))
      parts.splice(rng.int(parts.length + 1), 0, rng.pick(TOPIC_WORDS[this.topics[rng.pick(unloved)]]));
    return { id, interests: parts.join(", "), lang: "en", length: "short", digestSize: 10 };
  }

  /** Digest time of day `day` (1-based): midnight after that day's items. */
  now(day: number): number {
    return this.start + day * DAY;
  }

  /** Generates the items published during day `day` (deterministic), adds and returns them. */
  addDay(day: number): NewsItem[] {
    const rng = Rng.fromParts(this.seed, 2, day);
    const k = this.topics.length;
    const popularity = this.topics.map((_, t) => 1 / (1 + 0.15 * t));
    const drawTopic = () => categorical(rng, popularity);
    const fresh: NewsItem[] = [];
    for (let n = 0; n < this.itemsPerDay; n++) {
      const serial = this.items.length;
      const main = drawTopic();
      const mix = new Float64Array(k);
      const second = rng.chance(0.3) ? drawTopic() : main;
      mix[main] += second === main ? 1 : 0.7;
      if (second !== main) mix[second] += 0.3;
      const word = () => {
        if (rng.chance(0.45)) return rng.pick(GENERAL_WORDS);
        const t = rng.next() < mix[main] ? main : second;
        return rng.pick(TOPIC_WORDS[this.topics[t]]);
      };
      const sentence = (length: number) => Array.from({ length }, word).join(" ");
      const title = sentence(6);
      const text = Array.from({ length: rng.intBetween(3, 6) }, () => `${sentence(rng.intBetween(8, 14))}.`).join(" ");
      const id = `sim-${serial}`;
      const item: NewsItem = {
        id,
        source: `sim://source/${serial % SOURCES.length}`,
        sourceTitle: SOURCES[serial % SOURCES.length],
        title: title[0].toUpperCase() + title.slice(1),
        text,
        published: this.now(day - 1) + Math.floor(rng.next() * DAY),
        lang: "en",
      };
      this.#hidden.set(id, { serial, mix, quality: rng.next() });
      this.items.push(item);
      fresh.push(item);
    }
    return fresh;
  }

  /** How much the reader cares for the item's topics, in [0, 1]. */
  affinity(reader: number, item: string): number {
    const { mix } = this.#hidden.get(item)!;
    const taste = this.readers[reader].taste;
    let a = 0;
    for (let t = 0; t < mix.length; t++) a += taste[t] * mix[t];
    return a;
  }

  /** The chance the reader takes the item up if they look at it, at time `now`. */
  relevance(reader: number, item: NewsItem, now: number): number {
    const { quality } = this.#hidden.get(item.id)!;
    const freshness = 2 ** (-Math.max(0, now - item.published) / (2 * DAY));
    return Math.min(0.95, (0.03 + 0.7 * this.affinity(reader, item.id)) * freshness * (0.6 + 0.8 * quality));
  }

  /** The reader's would-click draw for this item: the same for every policy. */
  wouldClick(reader: number, item: NewsItem, now: number): boolean {
    return hashUniform(this.seed, 3, reader, this.#hidden.get(item.id)!.serial) < this.relevance(reader, item, now);
  }

  /** What the reader does with a digest (item ids in order): the feedback and the impressions. */
  respond(reader: number, digest: readonly NewsItem[], now: number): { feedback: Feedback[]; shown: Impression[] } {
    const id = this.readers[reader].reader.id;
    const feedback: Feedback[] = [];
    const shown: Impression[] = [];
    digest.forEach((item, position) => {
      const serial = this.#hidden.get(item.id)!.serial;
      const draw = (stream: number) => hashUniform(this.seed, stream, reader, serial);
      const at = now + (position + 1) * 60_000;
      shown.push({ reader: id, item: item.id, position, at: now });
      if (draw(4) >= 1 / Math.log2(position + 2)) return; // never looked at
      const affinity = this.affinity(reader, item.id);
      if (this.wouldClick(reader, item, now)) {
        feedback.push({ reader: id, item: item.id, kind: "click", at });
        const seconds = Math.round(10 + 240 * affinity * -Math.log(1 - draw(5)));
        feedback.push({ reader: id, item: item.id, kind: "dwell", seconds, at: at + seconds * 1000 });
      } else if (draw(6) < 0.5 * this.relevance(reader, item, now)) {
        feedback.push({ reader: id, item: item.id, kind: "open", at });
      } else if (affinity < 0.05 && draw(7) < 0.2) {
        feedback.push({ reader: id, item: item.id, kind: "less", at });
      }
    });
    return { feedback, shown };
  }
}

export interface DayMetrics {
  ndcg: number;
  mrr: number;
  auc: number;
  /** Mean clicks per digest. */
  clicks: number;
}

export interface SimulationOptions extends SimOptions {
  days?: number;
  windowDays?: number;
  digestSize?: number;
  /** Measure AUC (a full scoring pass more per reader and policy). */
  auc?: boolean;
  /** Called after each day with that day's metrics per policy. */
  onDay?: (day: number, metrics: Record<string, DayMetrics>) => void;
}

export interface SimulationResult {
  policies: string[];
  /** days[d][policy]: the metrics of day d + 1. */
  days: Record<string, DayMetrics>[];
}

/** nDCG@k of a ranked list of gains against the ideal gains of the whole candidate set. */
export function ndcg(gains: readonly number[], allGains: readonly number[], k: number): number {
  const dcg = (g: readonly number[]) => g.slice(0, k).reduce((s, x, p) => s + x / Math.log2(p + 2), 0);
  const ideal = dcg([...allGains].sort((a, b) => b - a));
  return ideal > 0 ? dcg(gains) / ideal : 0;
}

/** Reciprocal rank of the first relevant item in the first k, 0 if none. */
export function reciprocalRank(relevant: readonly boolean[], k: number): number {
  const p = relevant.slice(0, k).indexOf(true);
  return p < 0 ? 0 : 1 / (p + 1);
}

/** Area under the ROC curve of scores against labels (ties half), or NaN without both classes. */
export function auc(scores: ArrayLike<number>, labels: readonly boolean[]): number {
  const order = Array.from(labels.keys()).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && scores[order[j]] === scores[order[i]]) j++;
    const midRank = (i + j + 1) / 2; // 1-based mean rank of the tie group
    for (let t = i; t < j; t++)
      if (labels[order[t]]) {
        positives++;
        rankSum += midRank;
      }
    i = j;
  }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

const mean = (xs: readonly number[]) => {
  const ok = xs.filter((x) => !Number.isNaN(x));
  return ok.length === 0 ? Number.NaN : ok.reduce((a, b) => a + b, 0) / ok.length;
};

/** Runs the day loop for each policy in its own world over the same items and readers. */
export function simulate(policies: readonly RankingPolicy[], options: SimulationOptions = {}): SimulationResult {
  const world = new SimulatedWorld(options);
  const days = options.days ?? 20;
  const windowDays = options.windowDays ?? 2;
  const k = options.digestSize ?? 10;
  const readers = world.readers.map((r) => r.reader);
  const shownTo = policies.map(() => readers.map(() => new Set<string>()));
  const result: SimulationResult = { policies: policies.map((p) => p.name), days: [] };
  for (let day = 1; day <= days; day++) {
    world.addDay(day);
    const now = world.now(day);
    const window = world.items.filter((it) => it.published > now - windowDays * DAY);
    const embedder = new TextEmbedder().fit(world.items.map(itemText));
    const set: ItemSet = itemSet(window, embedder, { seed: day });
    const metrics: Record<string, DayMetrics> = {};
    policies.forEach((policy, p) => {
      const feedback: Feedback[] = [];
      const shown: Impression[] = [];
      const perReader = { ndcg: [] as number[], mrr: [] as number[], auc: [] as number[], clicks: 0 };
      readers.forEach((reader, r) => {
        const exclude = shownTo[p][r];
        const candidates = set.items.map((_, i) => i).filter((i) => !exclude.has(set.items[i].id));
        const ranked = policy.rank(reader, set, { now, k, exclude });
        const gain = (i: number) => world.relevance(r, set.items[i], now);
        const label = (i: number) => world.wouldClick(r, set.items[i], now);
        perReader.ndcg.push(
          ndcg(
            ranked.map((x) => gain(x.index)),
            candidates.map(gain),
            k,
          ),
        );
        perReader.mrr.push(
          reciprocalRank(
            ranked.map((x) => label(x.index)),
            k,
          ),
        );
        if (options.auc) {
          const scores = policy.scores(reader, set, now);
          perReader.auc.push(
            auc(
              candidates.map((i) => scores[i]),
              candidates.map(label),
            ),
          );
        }
        const digest = ranked.map((x) => set.items[x.index]);
        for (const it of digest) exclude.add(it.id);
        const response = world.respond(r, digest, now);
        feedback.push(...response.feedback);
        shown.push(...response.shown);
        perReader.clicks += response.feedback.filter((f) => f.kind === "click").length;
      });
      policy.update(feedback, { items: set, readers, shown });
      metrics[policy.name] = {
        ndcg: mean(perReader.ndcg),
        mrr: mean(perReader.mrr),
        auc: options.auc ? mean(perReader.auc) : Number.NaN,
        clicks: perReader.clicks / readers.length,
      };
    });
    result.days.push(metrics);
    options.onDay?.(day, metrics);
  }
  return result;
}
