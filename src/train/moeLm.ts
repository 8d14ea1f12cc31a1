// Training the MoE language model: the train graph (cross-entropy + balance loss, router
// statistics as extra outputs), batches from domain-labelled token streams, Gumbel noise
// drawn by the host per (seed, step), and the aux-loss-free bias update after each step.

import { Graph, op, type Tensor } from "../graph/index.js";
import { type MoeLmConfig, moeLayerIndices, moeLm, routerBiasName } from "../models/index.js";
import { type LoraConfig, type QuantizedBase, updateRouterBias } from "../nn/index.js";
import { Evaluator, type HostTensor, ParamStore, Rng, TrainStep, type TrainStepOptions } from "../runtime/index.js";
import { crossEntropy, maskedCrossEntropy } from "./losses.js";
import { type QuantizedBaseFeeds, quantizeBase } from "./qlora.js";

/** A token stream of one domain (group index into cfg.moe.groups, or -1 for no hint). */
export interface DomainTokens {
  tokens: Int32Array;
  domain: number;
  /** Share of windows drawn from this stream. */
  weight: number;
  /** 1 where predicting tokens[i] counts in the loss (e.g. an assistant's tokens); all count when absent. */
  lossMask?: Uint8Array;
}

export interface MoeLmTraining {
  cfg: MoeLmConfig;
  store: ParamStore;
  trainStep: TrainStep;
  /** QLoRA: the base as fed (codes, bits per parameter, its dequantized values on call). */
  quantizedBase?: QuantizedBaseFeeds;
  batch: number;
  seqLen: number;
  /** Batch for a step: ids, targets, domain, Gumbel noise and the current router biases. */
  batchAt: (streams: DomainTokens[], seed: number, step: number, train: boolean) => Record<string, HostTensor>;
  /** After a step: update biases from the step's loads (when enabled); returns router stats. */
  afterStep: (extras: Record<string, HostTensor>) => RouterStats;
  /** Held-out mean cross-entropy (nats/token) and router statistics on `batches` batches. */
  evaluate: (streams: DomainTokens[], seed: number, batches: number) => Promise<{ loss: number; stats: RouterStats }>;
}

export interface RouterStats {
  /** Per MoE block: load per expert (assignments), per group, coefficient of variation, drop rate. */
  layers: { layer: number; load: number[]; groupLoad: number[]; loadCV: number; dropRate: number; activeFraction: number }[];
  loadCV: number;
  dropRate: number;
  activeExpertFraction: number;
}

const gumbelName = (layer: number) => `model.layers.${layer}.mlp.gate.gumbel_noise`;

export function coefficientOfVariation(xs: ArrayLike<number>): number {
  const n = xs.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += xs[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (xs[i] - mean) ** 2;
  return mean === 0 ? 0 : Math.sqrt(v / n) / mean;
}

export function routerStats(cfg: MoeLmConfig, extras: Record<string, HostTensor>, tokens: number): RouterStats {
  const layers = moeLayerIndices(cfg).map((layer) => {
    const load = Array.from(extras[`load.${layer}`].data as Float32Array);
    const dropped = (extras[`dropped.${layer}`].data as Float32Array)[0];
    const assignments = load.reduce((a, b) => a + b, 0);
    let at = 0;
    const groupLoad = cfg.moe.groups.map((grp) => {
      const sum = load.slice(at, at + grp.size).reduce((a, b) => a + b, 0);
      at += grp.size;
      return sum / assignments;
    });
    return {
      layer,
      load,
      groupLoad,
      loadCV: coefficientOfVariation(load),
      dropRate: dropped / assignments,
      activeFraction: assignments / tokens / cfg.moe.experts,
    };
  });
  const mean = (f: (l: (typeof layers)[number]) => number) => layers.reduce((a, l) => a + f(l), 0) / Math.max(1, layers.length);
  return {
    layers,
    loadCV: mean((l) => l.loadCV),
    dropRate: mean((l) => l.dropRate),
    activeExpertFraction: mean((l) => l.activeFraction),
  };
}

function pickByWeight(streams: DomainTokens[], r: number): DomainTokens {
  let rest = r;
  for (const s of streams) {
    rest -= s.weight;
    if (rest < 0) return s;
  }
  return streams[streams.length - 1];
}

/** Random windows from the streams by weight, with domain labels, chosen by (seed, step). */
export function domainWindows(streams: DomainTokens[], batch: number, length: number, seed: number, step: number) {
  const rng = Rng.forName(seed, `lm-batch:${step}`);
  const total = streams.reduce((a, s) => a + s.weight, 0);
  const ids = new BigInt64Array(batch * length);
  const targets = new BigInt64Array(batch * length);
  const domain = new BigInt64Array(batch * length);
  const weights = new Float32Array(batch * length).fill(1);
  for (let b = 0; b < batch; b++) {
    const stream = pickByWeight(streams, rng.next() * total);
    if (stream.tokens.length < length + 2)
      throw new Error(`a token stream of ${stream.tokens.length} tokens is shorter than one window of ${length + 1}`);
    const start = rng.int(stream.tokens.length - length - 1);
    for (let i = 0; i < length; i++) {
      ids[b * length + i] = BigInt(stream.tokens[start + i]);
      targets[b * length + i] = BigInt(stream.tokens[start + i + 1]);
      domain[b * length + i] = BigInt(stream.domain);
      if (stream.lossMask) weights[b * length + i] = stream.lossMask[start + i + 1];
    }
  }
  return { ids, targets, domain, weights };
}

export interface MoeLmTrainOptions {
  cfg: MoeLmConfig;
  batch: number;
  seqLen: number;
  seed: number;
  /** Parameters (and router biases) to start from, owned by the training from here; a fresh seeded init otherwise. */
  store?: ParamStore;
  /** Route tokens by their stream's domain group (text -> text experts, code -> code experts). */
  domainHints: boolean;
  /**
   * Gumbel noise fades linearly to zero over this many steps (exploration early, the
   * deterministic routing used at inference late); 0 keeps it at full strength.
   */
  gumbelAnnealSteps: number;
  trainStep?: TrainStepOptions;
  /** The loss counts only the positions the streams' lossMask marks (fed as "loss_weights"). */
  maskedLoss?: boolean;
  /** Train LoRA updates only (every other parameter frozen, see src/nn/lora.ts). */
  lora?: LoraConfig;
  /** QLoRA (with `lora`): the frozen base's weight matrices fed as NF4 (see ./qlora.ts). */
  quantizedBase?: QuantizedBase;
}

function buildGraph(o: MoeLmTrainOptions, train: boolean) {
  const { cfg, batch, seqLen } = o;
  const g = new Graph();
  const ids = g.input("ids", "int64", [batch, seqLen]);
  const targets = g.input("targets", "int64", [batch, seqLen]);
  const domain = o.domainHints ? g.input("domain", "int64", [batch, seqLen]) : undefined;
  const n = batch * seqLen;
  const moeInputs = moeLayerIndices(cfg).map((layer) => ({
    bias: cfg.moe.biasUpdateRate > 0 ? g.input(routerBiasName(layer), "float32", [cfg.moe.experts]) : undefined,
    gumbel: train && cfg.moe.gumbelTau > 0 ? g.input(gumbelName(layer), "float32", [n, cfg.moe.experts]) : undefined,
  }));
  const lora = o.lora && { config: o.lora, train, quantizedBase: o.quantizedBase };
  const out = moeLm(g, cfg, { ids, mode: "train", domain, moeInputs, lora });
  const ce = o.maskedLoss
    ? maskedCrossEntropy(out.logits, targets, g.input("loss_weights", "float32", [batch, seqLen]))
    : crossEntropy(out.logits, targets);
  const extras: Record<string, Tensor> = { ce };
  for (const r of out.router) {
    extras[`load.${r.layer}`] = r.load;
    extras[`dropped.${r.layer}`] = r.dropped;
  }
  return { g, loss: out.auxLoss ? op.add(ce, out.auxLoss) : ce, extras };
}

export async function setupMoeLmTraining(options: MoeLmTrainOptions): Promise<MoeLmTraining> {
  const { cfg, batch, seqLen } = options;
  const trainGraph = buildGraph(options, true);
  const store = (options.store ?? new ParamStore()).initMissing(trainGraph.g, options.seed);
  for (const layer of moeLayerIndices(cfg)) {
    if (!store.values.has(routerBiasName(layer)))
      store.set(routerBiasName(layer), [cfg.moe.experts], new Float32Array(cfg.moe.experts));
  }
  if (options.quantizedBase && !options.lora) throw new Error("setupMoeLmTraining: a quantized base needs a LoRA config (QLoRA)");
  // The training store keeps only the codes of a quantized base (its float32 weights are dropped).
  const base = options.quantizedBase ? quantizeBase(trainGraph.g, store, options.quantizedBase, true) : undefined;
  const fixedFeeds = base?.feeds ?? {};
  const trainStep = await TrainStep.create(trainGraph.loss, store, {
    ...options.trainStep,
    extras: trainGraph.extras,
    fixedFeeds,
  });
  // Evaluation: no Gumbel noise, same capacity dispatch (drops are reported).
  const evalGraph = buildGraph(options, false);
  const evaluator = await Evaluator.create({ ...evalGraph.extras }, store, options.trainStep?.threads);
  const n = batch * seqLen;
  const rngFor = (seed: number, step: number, layer: number) => Rng.forName(seed, `gumbel:${step}:${layer}`);

  const batchAt = (streams: DomainTokens[], seed: number, step: number, train: boolean): Record<string, HostTensor> => {
    const w = domainWindows(streams, batch, seqLen, seed, step);
    const feeds: Record<string, HostTensor> = {
      ids: { dtype: "int64", shape: [batch, seqLen], data: w.ids },
      targets: { dtype: "int64", shape: [batch, seqLen], data: w.targets },
    };
    if (options.domainHints) feeds.domain = { dtype: "int64", shape: [batch, seqLen], data: w.domain };
    if (options.maskedLoss) feeds.loss_weights = { dtype: "float32", shape: [batch, seqLen], data: w.weights };
    for (const layer of moeLayerIndices(cfg)) {
      if (cfg.moe.biasUpdateRate > 0) feeds[routerBiasName(layer)] = store.host(routerBiasName(layer));
      if (train && cfg.moe.gumbelTau > 0) {
        // Gumbel(0, 1) = -log(-log(u)), u in (0, 1).
        const rng = rngFor(seed, step, layer);
        const scale = options.gumbelAnnealSteps > 0 ? Math.max(0, 1 - step / options.gumbelAnnealSteps) : 1;
        const noise = new Float32Array(n * cfg.moe.experts);
        for (let i = 0; i < noise.length; i++)
          noise[i] = -scale * Math.log(-Math.log(Math.min(1 - 1e-7, Math.max(1e-7, rng.next()))));
        feeds[gumbelName(layer)] = { dtype: "float32", shape: [n, cfg.moe.experts], data: noise };
      }
    }
    return feeds;
  };

  const afterStep = (extras: Record<string, HostTensor>): RouterStats => {
    const stats = routerStats(cfg, extras, n);
    if (cfg.moe.biasUpdateRate > 0) {
      for (const l of stats.layers) updateRouterBias(store.get(routerBiasName(l.layer)).data, l.load, cfg.moe.biasUpdateRate);
    }
    return stats;
  };

  const evaluate = async (streams: DomainTokens[], seed: number, batches: number) => {
    let loss = 0;
    const sums: Record<string, HostTensor> = {};
    for (let i = 0; i < batches; i++) {
      const out = await evaluator.run({ ...fixedFeeds, ...batchAt(streams, seed, i, false) });
      loss += (out.ce.data as Float32Array)[0];
      for (const [k, v] of Object.entries(out)) {
        if (k === "ce") continue;
        if (!sums[k]) sums[k] = { dtype: "float32", shape: v.shape, data: new Float32Array(v.data.length) };
        const acc = sums[k];
        (v.data as Float32Array).forEach((x, j) => {
          (acc.data as Float32Array)[j] += x;
        });
      }
    }
    return { loss: loss / batches, stats: routerStats(cfg, sums, n * batches) };
  };

  return { cfg, store, trainStep, batch, seqLen, batchAt, afterStep, evaluate, quantizedBase: base };
}

/** Evenly spaced windows of `length` tokens from each held-out stream. */
export function heldOutWindows(valid: DomainTokens[], windows: number, length: number): number[][] {
  return windowStarts(valid, windows, length).map(({ s, start }) => Array.from(s.tokens.subarray(start, start + length)));
}

/**
 * For the same windows as heldOutWindows: per position i, the weight of predicting token i + 1
 * (the streams' lossMask, e.g. a chat record's answers), or null where no stream has a mask.
 */
export function heldOutMasks(valid: DomainTokens[], windows: number, length: number): number[][] | null {
  if (!valid.some((s) => s.lossMask)) return null;
  return windowStarts(valid, windows, length).map(({ s, start }) =>
    Array.from({ length: length - 1 }, (_, i) => (s.lossMask ? s.lossMask[start + i + 1] : 1)),
  );
}

/** Evenly spaced windows of `length` tokens over each held-out stream. */
function windowStarts(valid: DomainTokens[], windows: number, length: number): { s: DomainTokens; start: number }[] {
  const out: { s: DomainTokens; start: number }[] = [];
  const perStream = Math.ceil(windows / valid.length);
  for (const s of valid) {
    const span = s.tokens.length - length;
    if (span <= 0) continue;
    for (let i = 0; i < perStream; i++) out.push({ s, start: Math.floor((span * (i + 0.5)) / perStream) });
  }
  if (out.length === 0) throw new Error(`the held-out text is shorter than one window of ${length} tokens`);
  return out;
}
