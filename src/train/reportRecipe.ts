// Training the medical report model on synthetic chest CT cases: the vision tower starts from
// the shipped aligner's image encoder (fine-tuned here), the MoE LM from scratch; one graph
// runs pixels -> patch tokens -> image prefix -> LM, and the loss is the cross-entropy of the
// report tokens only (not of the prompt). English reports always, Chinese for a share of
// the cases (the same model writes both).

import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type BpeTokenizer,
  gatherRows,
  reportTerms,
  reportText,
  type SynthCase,
  synthChestSet,
  trainBpe,
} from "../data/index.js";
import { generalWordsFromTexts, lexiconFromTerms } from "../generate/index.js";
import { Graph, op, type Tensor } from "../graph/index.js";
import {
  type AlignerConfig,
  alignerImageTower,
  type ClinicalContext,
  contextFromSynthEhr,
  contextText,
  emptyContext,
  type GeneralWords,
  loadAligner,
  MoeLmConfig,
  moeLayerIndices,
  moeLm,
  pixelsInput,
  preprocessHu,
  REPORT_MODEL_KIND,
  type ReportLanguage,
  type ReportModelFileConfig,
  reportPrompt,
  routerBiasName,
  saveReportModel,
  towerReduce,
  visionSlots,
  visionTokens,
} from "../models/index.js";
import { defaultMoeConfig, linear, Scope, updateRouterBias } from "../nn/index.js";
import { type HostTensor, loadCheckpoint, ParamStore, Rng, saveCheckpoint, TrainStep } from "../runtime/index.js";
import { FINDING_LABELS, findingLabels } from "./alignRecipe.js";
import { binaryCrossEntropyWithLogits } from "./losses.js";
import { routerStats } from "./moeLm.js";
import { cosineSchedule } from "./schedule.js";

export interface ReportPreset {
  /** Training cases (each an English sequence, plus a Chinese one for `zhShare` of them). */
  cases: number;
  zhShare: number;
  steps: number;
  batch: number;
  /** Most tokens per sequence (prompt with its image slots + report); the batch uses the longest example's length. */
  seqLen: number;
  lr: number;
  bpeVocab: number;
  /** Pool k x k patch tokens into one prefix slot (max for a max-pooled tower, else the mean). */
  visionPool: number;
  /**
   * Weight of an auxiliary loss on the vision tower: a linear head on its pooled prefix
   * slots predicts the finding labels (type x side, lobe, severity, size band, level, ratio
   * band, air bronchograms) with binary cross-entropy. Dense, direct supervision of what
   * the report must say; the head is dropped from the saved model. 0 = off.
   */
  labelLossWeight: number;
  /**
   * Stage 1 (before the report model trains): steps of finding-label pre-training of the
   * vision tower alone, batch 64, on `visionPretrainCases` fresh synthetic cases. 0 = skip.
   */
  visionPretrainSteps: number;
  visionPretrainCases: number;
  dim: number;
  layers: number;
  expertHidden: number;
}

export const reportPresets = {
  /** For tests: minutes. */
  tiny: {
    cases: 300,
    zhShare: 0.3,
    steps: 60,
    batch: 8,
    seqLen: 384,
    lr: 3e-3,
    bpeVocab: 1400,
    visionPool: 1,
    labelLossWeight: 0.5,
    visionPretrainSteps: 10,
    visionPretrainCases: 64,
    dim: 64,
    layers: 2,
    expertHidden: 16,
  },
  /** The shipped model. */
  default: {
    cases: 6000,
    zhShare: 0.3,
    steps: 3000,
    batch: 16,
    seqLen: 384,
    lr: 2e-3,
    bpeVocab: 1400,
    visionPool: 2,
    labelLossWeight: 1,
    visionPretrainSteps: 5000,
    visionPretrainCases: 24000,
    dim: 128,
    layers: 3,
    expertHidden: 32,
  },
} as const satisfies Record<string, ReportPreset>;
export type ReportPresetName = keyof typeof reportPresets;

export const DEFAULT_REPORT_SEEDS = { seed: 0, trainSeed: 11, visionSeed: 101 } as const;

const pretrainBatch = 64;

/**
 * Stage 1: the vision tower learns to name what a slice shows (the finding labels, binary
 * cross-entropy on its pooled feature) from its aligner weights, in place in `store`.
 */
async function pretrainVision(
  vision: AlignerConfig,
  store: ParamStore,
  o: { steps: number; cases: number; seed: number; threads?: number; onProgress?: (p: ReportProgress) => void },
): Promise<number> {
  const labelCount = FINDING_LABELS.length;
  const { windows, imageSize } = vision.image;
  const per = windows.length * imageSize * imageSize;
  const cases = synthChestSet(o.seed, o.cases);
  const pixels = new Float32Array(cases.length * per);
  const labels = new Float32Array(cases.length * labelCount);
  cases.forEach((c, i) => {
    pixels.set(preprocessHu(c.hu, c.width, c.height, vision.image), i * per);
    labels.set(findingLabels(c), i * labelCount);
  });
  const g = new Graph();
  const image = alignerImageTower(g, vision, pixelsInput(g, vision, pretrainBatch));
  const y = g.input("labels", "float32", [pretrainBatch, labelCount]);
  const logits = linear(new Scope(g).child("pretrain").child("image_classifier"), image.features, labelCount, { bias: true });
  store.initMissing(g, o.seed);
  const trainStep = await TrainStep.create(binaryCrossEntropyWithLogits(logits, y), store, { threads: o.threads });
  const schedule = cosineSchedule({ lr: 2e-3, warmup: 50, total: o.steps });
  let loss = Number.NaN;
  for (let s = 0; s < o.steps; s++) {
    const t0 = performance.now();
    const rng = Rng.forName(o.seed, `vision-batch:${s}`);
    const rows = Array.from({ length: pretrainBatch }, () => rng.int(cases.length));
    const r = await trainStep.run(
      {
        pixels: {
          dtype: "float32",
          shape: [pretrainBatch, windows.length, imageSize, imageSize],
          data: gatherRows(pixels, rows, per),
        },
        labels: { dtype: "float32", shape: [pretrainBatch, labelCount], data: gatherRows(labels, rows, labelCount) },
      },
      schedule(s),
    );
    loss = r.loss;
    o.onProgress?.({ stage: "vision", step: s + 1, steps: o.steps, loss, msPerStep: performance.now() - t0 });
  }
  return loss;
}

/** One training sequence: prompt + report + eos, the loss on report tokens only. */
interface Example {
  c: SynthCase;
  ids: number[];
  /** Index of the first report token. */
  reportStart: number;
}

/**
 * The record a training case is shown with. Never its own: the synthetic records are drawn
 * from the findings (fever with consolidation, COPD with emphysema), so a model that sees
 * its own case's record learns to read findings from it, and a record that says COPD makes
 * it write emphysema the image does not show. Every finding must come from the image, so
 * the record is another case's (drawn independently of this one's findings), with fields
 * missing the way real records lack them, or absent.
 */
export function trainingContext(cases: readonly SynthCase[], index: number, rng: Rng): ClinicalContext {
  if (rng.chance(0.2)) return emptyContext();
  let other = rng.int(cases.length - 1);
  if (other >= index) other++;
  const full = contextFromSynthEhr(cases[other].ehr);
  if (rng.chance(0.6)) return full;
  const keep = <T>(xs: Record<string, T>) => Object.fromEntries(Object.entries(xs).filter(() => rng.chance(0.7)));
  return {
    age: rng.chance(0.9) ? full.age : undefined,
    sex: rng.chance(0.9) ? full.sex : undefined,
    smoking: rng.chance(0.7) ? full.smoking : undefined,
    symptoms: rng.chance(0.7) ? full.symptoms : [],
    vitals: keep(full.vitals),
    labs: keep(full.labs),
    history: rng.chance(0.7) ? full.history : [],
  };
}

function examples(
  cases: readonly SynthCase[],
  tokenizer: BpeTokenizer,
  slots: number,
  zhShare: number,
  seqLen: number,
  seed: number,
): Example[] {
  const eos = tokenizer.idOf("<|eos|>");
  if (eos === undefined) throw new Error("the report tokenizer has no <|eos|> token");
  const out: Example[] = [];
  cases.forEach((c, i) => {
    const langs: ReportLanguage[] = i / cases.length < zhShare ? ["en", "zh"] : ["en"];
    for (const lang of langs) {
      const context = trainingContext(cases, i, Rng.forName(seed, `report-context:${i}:${lang}`));
      const prompt = reportPrompt(tokenizer, slots, context, lang);
      const report = tokenizer.encode(reportText(c.report[lang], lang), { allowSpecial: false });
      const ids = [...prompt, ...report, eos];
      if (ids.length > seqLen + 1)
        throw new Error(`case ${c.id} (${lang}) needs ${ids.length} tokens; raise seqLen above ${seqLen}`);
      out.push({ c, ids, reportStart: prompt.length });
    }
  });
  return out;
}

/** The general words of the training reports, per language (each language's own lexicon cut out). */
export function reportGeneralWords(cases: readonly SynthCase[]): GeneralWords {
  const of = (lang: ReportLanguage) =>
    generalWordsFromTexts(
      cases.map((c) => reportText(c.report[lang], lang)),
      lexiconFromTerms(reportTerms.map((t) => t[lang])),
    );
  return { en: of("en"), zh: of("zh") };
}

export interface ReportTraining {
  lm: MoeLmConfig;
  vision: AlignerConfig;
  tokenizer: BpeTokenizer;
  store: ParamStore;
  trainStep: TrainStep;
}

/** The train graph: pixels -> vision tokens -> LM with image prefix -> masked cross-entropy (+ balance loss). */
function trainGraph(lm: MoeLmConfig, vision: AlignerConfig, preset: ReportPreset, batch: number, t: number) {
  const g = new Graph();
  const { windows, imageSize } = vision.image;
  const pixels = g.input("pixels", "float32", [batch, windows.length, imageSize, imageSize]);
  const ids = g.input("ids", "int64", [batch, t]);
  const targets = g.input("targets", "int64", [batch, t]);
  const weights = g.input("weights", "float32", [batch, t]);
  const slots = g.input("slots", "int64", [batch, t]);
  const domain = g.input("domain", "int64", [batch, t]);
  const moeInputs = moeLayerIndices(lm).map((layer) => ({ bias: g.input(routerBiasName(layer), "float32", [lm.moe.experts]) }));
  const features = visionTokens(g, vision, pixels, preset.visionPool); // [B, S, F]
  const out = moeLm(g, lm, { ids, mode: "train", domain, moeInputs, image: { features, slots } });
  const v = lm.vocab;
  const logp = op.logSoftmax(op.reshape(out.logits, [batch * t, v]), -1); // [N, V]
  const picked = op.reshape(op.gatherElements(logp, op.reshape(targets, [batch * t, 1]), 1), [batch, t]); // [B, T]
  const ce = op.div(op.neg(op.reduceSum(op.mul(picked, weights))), op.reduceSum(weights));
  const extras: Record<string, Tensor> = { ce };
  let loss = ce;
  if (preset.labelLossWeight > 0) {
    const labels = g.input("labels", "float32", [batch, FINDING_LABELS.length]);
    const pooled = towerReduce(vision)(features, 1); // [B, F]
    const logits = linear(new Scope(g).child("vision_head"), pooled, FINDING_LABELS.length); // [B, L]
    const bce = binaryCrossEntropyWithLogits(logits, labels);
    extras.labels = bce;
    loss = op.add(loss, op.mul(bce, preset.labelLossWeight));
  }
  for (const r of out.router) {
    extras[`load.${r.layer}`] = r.load;
    extras[`dropped.${r.layer}`] = r.dropped;
  }
  return { loss: out.auxLoss ? op.add(loss, out.auxLoss) : loss, extras };
}

export interface ReportProgress {
  /** "vision": stage 1 (finding labels on the vision tower); "report": the report model. */
  stage: "vision" | "report";
  step: number;
  steps: number;
  loss: number;
  msPerStep: number;
}

export interface TrainReportOptions {
  preset: ReportPresetName;
  out: string;
  /** The aligner whose image encoder starts the vision tower (default assets/aligner). */
  aligner?: string;
  steps?: number;
  /** Stage-1 steps and cases (default: the preset's). */
  visionSteps?: number;
  visionCases?: number;
  seed?: number;
  trainSeed?: number;
  /** Cases of the vision pre-training stage (a seed the report training and evaluation do not use). */
  visionSeed?: number;
  /**
   * A folder that keeps stage 1's result: read when it holds a stage 1 made with the same
   * aligner, steps, cases and seed; written when it does not. Stage 1 is most of the wall
   * time and does not depend on anything stage 2 does, so recipes that change only stage 2
   * run it once.
   */
  visionCheckpoint?: string;
  threads?: number;
  onProgress?: (p: ReportProgress) => void;
}

export async function trainReport(options: TrainReportOptions): Promise<{ loss: number; examples: number; vocab: number }> {
  const preset: ReportPreset = reportPresets[options.preset];
  const steps = options.steps ?? preset.steps;
  const seed = options.seed ?? DEFAULT_REPORT_SEEDS.seed;
  const trainSeed = options.trainSeed ?? DEFAULT_REPORT_SEEDS.trainSeed;
  const alignerDir = options.aligner ?? "assets/aligner";
  if (!existsSync(alignerDir)) throw new Error(`no aligner at ${alignerDir}: the report model starts from its image encoder`);
  const aligner = await loadAligner(alignerDir, { threads: options.threads });
  const vision = aligner.model;
  const patches = visionSlots(vision, preset.visionPool);

  const cases = synthChestSet(trainSeed, preset.cases);
  const corpus = cases.flatMap((c) => [
    reportText(c.report.en, "en"),
    reportText(c.report.zh, "zh"),
    contextText(contextFromSynthEhr(c.ehr)),
  ]);
  const tokenizer = trainBpe(corpus, { vocabSize: preset.bpeVocab, reservedImageTokens: Math.max(patches, 1) });
  const lm = MoeLmConfig.parse({
    vocab: tokenizer.vocabSize,
    maxSeq: preset.seqLen + 64, // room to generate a report longer than any seen
    dim: preset.dim,
    heads: 4,
    layers: preset.layers,
    denseLayers: 1,
    denseHidden: preset.dim * 3,
    tieEmbeddings: true,
    ropeTheta: 10000,
    normEps: 1e-6,
    moe: { ...defaultMoeConfig, expertHidden: preset.expertHidden, scoreFunc: "sigmoid", gumbelTau: 0 },
    image: { slots: patches, features: vision.image.dim },
  });
  const data = examples(cases, tokenizer, patches, preset.zhShare, preset.seqLen, seed);
  const t = Math.max(...data.map((e) => e.ids.length)) - 1;
  const b = preset.batch;
  const graph = trainGraph(lm, vision, preset, b, t);
  const store = new ParamStore();
  for (const [name, v] of aligner.store.values)
    if (name.startsWith("vision_model.") || name === "visual_projection.weight")
      store.set(name, v.shape, Float32Array.from(v.data));
  const visionSteps = options.visionSteps ?? preset.visionPretrainSteps;
  const visionCases = options.visionCases ?? preset.visionPretrainCases;
  const visionSeed = options.visionSeed ?? DEFAULT_REPORT_SEEDS.visionSeed;
  const stage1 = {
    stage: "report-vision-pretrain",
    aligner: alignerDir,
    steps: visionSteps,
    cases: visionCases,
    seed: visionSeed,
  };
  let visionLoss: number | undefined;
  const kept =
    options.visionCheckpoint && existsSync(join(options.visionCheckpoint, "model.safetensors"))
      ? await loadCheckpoint(options.visionCheckpoint)
      : undefined;
  if (kept && JSON.stringify(kept.config) === JSON.stringify(stage1)) {
    for (const [name, v] of kept.store.values) if (name.startsWith("vision_model.")) store.set(name, v.shape, v.data);
    visionLoss = typeof kept.state.loss === "number" ? kept.state.loss : undefined;
  } else if (visionSteps > 0) {
    visionLoss = await pretrainVision(vision, store, {
      steps: visionSteps,
      cases: visionCases,
      seed: visionSeed,
      threads: options.threads,
      onProgress: options.onProgress,
    });
    if (options.visionCheckpoint) {
      const tower = new ParamStore();
      for (const [name, v] of store.values) if (name.startsWith("vision_model.")) tower.set(name, v.shape, v.data);
      await saveCheckpoint(options.visionCheckpoint, { store: tower, config: stage1, state: { loss: visionLoss } });
    }
  }
  store.initMissing(graph.loss.graph, seed);
  for (const layer of moeLayerIndices(lm)) store.set(routerBiasName(layer), [lm.moe.experts], new Float32Array(lm.moe.experts));
  const trainStep = await TrainStep.create(graph.loss, store, { threads: options.threads, extras: graph.extras });
  const schedule = cosineSchedule({ lr: preset.lr, warmup: Math.min(100, Math.floor(steps / 10)), total: steps });
  const imageGroup = lm.moe.groups.findIndex((x) => x.name === "image");
  const per = vision.image.windows.length * vision.image.imageSize * vision.image.imageSize;

  const batchAt = (step: number): Record<string, HostTensor> => {
    const rng = Rng.forName(seed, `report-batch:${step}`);
    const pixels = new Float32Array(b * per);
    const ids = new BigInt64Array(b * t);
    const targets = new BigInt64Array(b * t);
    const weights = new Float32Array(b * t);
    const slots = new BigInt64Array(b * t).fill(BigInt(patches));
    const labels = new Float32Array(b * FINDING_LABELS.length);
    const domain = new BigInt64Array(b * t).fill(-1n);
    for (let r = 0; r < b; r++) {
      const ex = data[rng.int(data.length)];
      pixels.set(preprocessHu(ex.c.hu, ex.c.width, ex.c.height, vision.image), r * per);
      labels.set(findingLabels(ex.c), r * FINDING_LABELS.length);
      for (let i = 0; i < t; i++) {
        // Sequences are right-padded with eos; padding carries no loss.
        const id = ex.ids[i] ?? ex.ids[ex.ids.length - 1];
        const next = ex.ids[i + 1] ?? ex.ids[ex.ids.length - 1];
        ids[r * t + i] = BigInt(id);
        targets[r * t + i] = BigInt(next);
        weights[r * t + i] = i + 1 >= ex.reportStart && i + 1 < ex.ids.length ? 1 : 0;
        if (i < patches) {
          slots[r * t + i] = BigInt(i);
          if (imageGroup >= 0) domain[r * t + i] = BigInt(imageGroup);
        }
      }
    }
    const feeds: Record<string, HostTensor> = {
      pixels: {
        dtype: "float32",
        shape: [b, vision.image.windows.length, vision.image.imageSize, vision.image.imageSize],
        data: pixels,
      },
      ids: { dtype: "int64", shape: [b, t], data: ids },
      targets: { dtype: "int64", shape: [b, t], data: targets },
      weights: { dtype: "float32", shape: [b, t], data: weights },
      slots: { dtype: "int64", shape: [b, t], data: slots },
      domain: { dtype: "int64", shape: [b, t], data: domain },
    };
    if (preset.labelLossWeight > 0) feeds.labels = { dtype: "float32", shape: [b, FINDING_LABELS.length], data: labels };
    for (const layer of moeLayerIndices(lm)) feeds[routerBiasName(layer)] = store.host(routerBiasName(layer));
    return feeds;
  };

  let loss = Number.NaN;
  for (let step = 0; step < steps; step++) {
    const t0 = performance.now();
    const r = await trainStep.run(batchAt(step), schedule(step));
    const stats = routerStats(lm, r.extras, b * t);
    for (const l of stats.layers) updateRouterBias(store.get(routerBiasName(l.layer)).data, l.load, lm.moe.biasUpdateRate);
    loss = (r.extras.ce.data as Float32Array)[0];
    options.onProgress?.({ stage: "report", step: step + 1, steps, loss, msPerStep: performance.now() - t0 });
  }
  const config: ReportModelFileConfig = {
    kind: REPORT_MODEL_KIND,
    lm,
    vision,
    visionPool: preset.visionPool,
    training: {
      preset: options.preset,
      steps,
      seed,
      trainSeed,
      cases: preset.cases,
      zhShare: preset.zhShare,
      labelLossWeight: preset.labelLossWeight,
      visionPretrainSteps: visionSteps,
      visionPretrainCases: visionCases,
      visionPretrainLoss: visionLoss,
      aligner: alignerDir,
      finalLoss: loss,
    },
  };
  const generalWords = reportGeneralWords(cases);
  await saveReportModel(options.out, { config, store, tokenizer, generalWords, weights: "f16" });
  return { loss, examples: data.length, vocab: tokenizer.vocabSize };
}
