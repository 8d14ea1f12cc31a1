// Training recipes for the image–text aligner on synthetic chest CT slices and their
// English reports.
//
//   direct       InfoNCE from scratch for all `steps`.
//   progressive  stage 1 (pretrainSteps): unimodal pre-training, both towers in one step:
//                  image tower: multi-label finding classification from the pooled feature
//                  (binary cross-entropy per class; classes: type × side, lobe, severity,
//                  size band, slice level, cardiothoracic-ratio band; see FINDING_LABELS);
//                  text tower: masked-token prediction (BERT-style, maskRatio of the tokens)
//                  and, with `textClassification`, the same finding labels from its pooled
//                  feature (what the report states; no image involved);
//                stage 2 (steps - pretrainSteps): InfoNCE alignment from the stage-1 weights.
//
// Equal compute: both recipes run `steps` optimizer steps of `batch` examples, and every
// step passes `batch` slices through the image tower and `batch` reports through the text
// tower (forward and backward), so images and texts seen per tower are equal; only the small
// heads differ (classifier, masked-token head vs the B×B similarity). Wall time is recorded too.
//
// Data: training pairs from synthChestSet(trainSeed, trainPairs); the held-out set from a
// different seed. Both recipes start from the same initial weights (per-name init streams).

import { type BpeTokenizer, gatherRows, reportText, type SynthCase, synthChestSet, trainBpe } from "../data/index.js";
import { Graph, op, type Tensor } from "../graph/index.js";
import {
  ALIGNER_KIND,
  Aligner,
  type AlignerConfig,
  AlignerConfig as AlignerConfigSchema,
  type AlignerFileConfig,
  alignerImageTower,
  alignerLogitScale,
  alignerTextTower,
  CHEST_WINDOWS,
  idsInput,
  MASK_ID,
  PAD_ID,
  pixelsInput,
  preprocessHu,
  saveAligner,
  TEXT_SPECIAL_TOKENS,
  type TextEncoderConfig,
  tokenizeTexts,
} from "../models/index.js";
import { linear, Scope } from "../nn/index.js";
import { type HostTensor, ParamStore, Rng, saveCheckpoint, TrainStep } from "../runtime/index.js";
import { binaryCrossEntropyWithLogits, infoNceLoss } from "./losses.js";
import { evaluateRetrieval, type RetrievalMetrics, type SlicePair } from "./retrieval.js";
import { cosineSchedule } from "./schedule.js";

export const ALIGN_RECIPES = ["progressive", "direct"] as const;
export type AlignRecipe = (typeof ALIGN_RECIPES)[number];

export interface AlignPreset {
  /** The model, less the text vocabulary (the trained tokenizer's size). */
  model: Omit<AlignerConfig, "text"> & { text: Omit<TextEncoderConfig, "vocab"> };
  /** BPE vocabulary to train on the training reports (3 special + 256 byte tokens + merges). */
  vocab: number;
  trainPairs: number;
  /** Held-out pairs for the final evaluation (>= 500 for the shipped model). */
  evalPairs: number;
  /** Held-out pairs evaluated during training (a prefix of the held-out set). */
  monitorPairs: number;
  batch: number;
  /** Total optimizer steps, the same for both recipes. */
  steps: number;
  /** Progressive only: steps of stage 1 (unimodal pre-training), out of `steps`. */
  pretrainSteps: number;
  lr: number;
  /** Fraction of text tokens masked in stage 1. */
  maskRatio: number;
  /**
   * Stage 1 also trains the text tower's pooled feature on the finding labels (read from
   * the report it encodes), as the image tower is; off = masked-token prediction only.
   */
  textClassification: boolean;
  /** Evaluate and checkpoint this many times during training. */
  evals: number;
}

const encoder = { heads: 4, pool: "mean" as const };
// The image tower: a convolutional stem (a 2-pixel nodule survives into the tokens) and max
// pooling (a small lesion is not averaged away over 64 patches). At equal steps both beat
// the linear patch embedding with mean pooling by a wide margin on the finding labels.
const imageTower = { heads: 4, pool: "max" as const };

export const alignPresets = {
  // For tests: trains in seconds on a few dozen pairs.
  tiny: {
    model: {
      embedDim: 512,
      image: {
        ...imageTower,
        stem: { convChannels: [8, 16, 32] },
        imageSize: 32,
        windows: [...CHEST_WINDOWS],
        patch: 8,
        dim: 32,
        layers: 1,
        hidden: 64,
      },
      text: { ...encoder, maxLen: 160, dim: 32, layers: 1, hidden: 64 },
      temperature: 0.1,
      learnableTemperature: false,
    },
    vocab: 400,
    trainPairs: 48,
    evalPairs: 48,
    monitorPairs: 16,
    batch: 16,
    steps: 60,
    pretrainSteps: 20,
    lr: 3e-3,
    maskRatio: 0.15,
    textClassification: true,
    evals: 1,
  },
  // The shipped model: 2000 steps of 64 pairs, about 30 minutes with one thread (0.88 s a step
  // beside another run on the 2 cores).
  default: {
    model: {
      embedDim: 512,
      image: {
        ...imageTower,
        stem: { convChannels: [32, 64, 128, 128] },
        imageSize: 128,
        windows: [...CHEST_WINDOWS],
        patch: 16,
        dim: 128,
        layers: 4,
        hidden: 256,
      },
      text: { ...encoder, maxLen: 192, dim: 128, layers: 2, hidden: 256 },
      temperature: 0.1,
      learnableTemperature: false,
    },
    vocab: 800,
    // 12000 pairs: with 3000 the run overfits (training-set R@1 twice the held-out one).
    trainPairs: 12000,
    evalPairs: 500,
    monitorPairs: 200,
    batch: 64,
    steps: 2000,
    // 60% in stage 1: at 1000 steps, 600 pre-training steps beat 333 (held-out R@1 0.55 vs 0.30).
    pretrainSteps: 1200,
    lr: 2e-3,
    maskRatio: 0.15,
    textClassification: true,
    evals: 3,
  },
} satisfies Record<string, AlignPreset>;
export type AlignPresetName = keyof typeof alignPresets;
export const ALIGN_PRESET_NAMES = Object.keys(alignPresets) as AlignPresetName[];

// ---------------------------------------------------------------- data

/** The English report of a case as one text: "FINDINGS:\n…\n\nIMPRESSION:\n…". */
export const caseText = (synthCase: SynthCase): string => reportText(synthCase.report.en, "en");

/** A case as a retrieval pair: its slice and its English report. */
export const casePair = (synthCase: SynthCase): SlicePair => ({ slice: synthCase, text: caseText(synthCase) });

// Multi-label targets of stage 1, everything a report states about the slice, as
// classes: each finding's type × side ("none" for cardiomegaly), its lobe, its severity and
// its size band, air bronchograms in a consolidation, the slice level, and the
// cardiothoracic ratio in 0.02 bands.
const FINDING_TYPES = ["nodule", "mass", "consolidation", "effusion", "pneumothorax", "emphysema", "cardiomegaly"] as const;
const LABEL_SIDES = ["right", "left", "bilateral", "none"] as const;
const LOBE_TYPES = ["nodule", "mass", "consolidation"] as const;
const LOBES = ["RUL", "RML", "RLL", "LUL", "lingula", "LLL"] as const;
const SEVERITIES = {
  effusion: ["small", "moderate", "large"],
  pneumothorax: ["small", "large"],
  emphysema: ["mild", "severe"],
  cardiomegaly: ["mild", "severe"],
} as const;
/** Lower edges (mm) of the size bands of nodules (6–30) and masses (31–70). */
const SIZE_BANDS = { nodule: [6, 9, 12, 15, 18, 22, 26], mass: [31, 38, 45, 52, 59, 65] } as const;
const LEVELS = ["upper", "mid", "lower"] as const;
const CTR_BANDS = Array.from({ length: 17 }, (_, i) => 0.38 + 0.02 * i);

const bandOf = (edges: readonly number[], v: number) => edges.reduce((at, edge, i) => (v >= edge - 1e-9 ? i : at), 0);

export const FINDING_LABELS: readonly string[] = [
  ...FINDING_TYPES.flatMap((t) => LABEL_SIDES.map((s) => `${t}:${s}`)),
  ...LOBE_TYPES.flatMap((t) => LOBES.map((l) => `${t}:${l}`)),
  ...Object.entries(SEVERITIES).flatMap(([t, levels]) => levels.map((v) => `${t}:${v}`)),
  ...Object.entries(SIZE_BANDS).flatMap(([t, edges]) => edges.map((_, i) => `${t}:size${i}`)),
  ...LEVELS.map((l) => `level:${l}`),
  ...CTR_BANDS.map((_, i) => `ctr:${i}`),
  "consolidation:airBronchograms",
];

/** Multi-hot [L] of what a case shows, over FINDING_LABELS. */
export function findingLabels(synthCase: Pick<SynthCase, "findings" | "sliceLevel" | "cardiothoracicRatio">): Float32Array {
  const out = new Float32Array(FINDING_LABELS.length);
  const set = (label: string) => {
    const i = FINDING_LABELS.indexOf(label);
    if (i < 0) throw new Error(`findingLabels: no class "${label}" (classes: ${FINDING_LABELS.join(", ")})`);
    out[i] = 1;
  };
  for (const f of synthCase.findings) {
    set(`${f.type}:${f.side ?? "none"}`);
    if (f.lobe !== undefined) set(`${f.type}:${f.lobe}`);
    if (f.severity !== undefined) set(`${f.type}:${f.severity}`);
    if (f.sizeMm !== undefined && (f.type === "nodule" || f.type === "mass"))
      set(`${f.type}:size${bandOf(SIZE_BANDS[f.type], f.sizeMm)}`);
    if (f.type === "consolidation" && f.airBronchograms === true) set("consolidation:airBronchograms");
  }
  set(`level:${synthCase.sliceLevel}`);
  if (synthCase.cardiothoracicRatio !== undefined) set(`ctr:${bandOf(CTR_BANDS, synthCase.cardiothoracicRatio)}`);
  return out;
}

/** Training pairs as the graphs take them, plus the held-out pairs. */
export interface AlignData {
  tokenizer: BpeTokenizer;
  /** The preset's model with the vocabulary and text length filled in. */
  config: AlignerConfig;
  n: number;
  /** [n, C, S, S] */
  pixels: Float32Array;
  /** [n, T] */
  ids: BigInt64Array;
  /** [n, L] */
  labels: Float32Array;
  heldOut: SlicePair[];
  /** The first training pairs (as many as held out), to measure how well training fits. */
  trainSample: SlicePair[];
  /** Reports cut to fit maxLen (none with the presets' lengths). */
  truncated: number;
  seeds: { train: number; eval: number };
}

export function prepareAlignData(
  preset: AlignPreset,
  options: { trainSeed: number; evalSeed: number; trainPairs?: number; evalPairs?: number },
): AlignData {
  if (options.trainSeed === options.evalSeed)
    throw new Error(`the held-out seed must differ from the training seed (both ${options.trainSeed})`);
  const train = synthChestSet(options.trainSeed, options.trainPairs ?? preset.trainPairs);
  const texts = train.map(caseText);
  const tokenizer = trainBpe(texts, { vocabSize: preset.vocab, specialTokens: TEXT_SPECIAL_TOKENS, reservedImageTokens: 0 });
  const longest = Math.max(...texts.map((t) => tokenizer.encode(t, { allowSpecial: false }).length)) + 1;
  const maxLen = Math.min(preset.model.text.maxLen, longest);
  const config = AlignerConfigSchema.parse({
    ...preset.model,
    text: { ...preset.model.text, vocab: tokenizer.vocabSize, maxLen },
  });
  const { imageSize, windows } = config.image;
  const per = windows.length * imageSize * imageSize;
  const pixels = new Float32Array(train.length * per);
  const labels = new Float32Array(train.length * FINDING_LABELS.length);
  train.forEach((c, i) => {
    pixels.set(preprocessHu(c.hu, c.width, c.height, config.image), i * per);
    labels.set(findingLabels(c), i * FINDING_LABELS.length);
  });
  const held = synthChestSet(options.evalSeed, options.evalPairs ?? preset.evalPairs);
  return {
    tokenizer,
    config,
    n: train.length,
    pixels,
    ids: tokenizeTexts(tokenizer, texts, maxLen),
    labels,
    heldOut: held.map(casePair),
    trainSample: train.slice(0, held.length).map((c, i) => ({ slice: c, text: texts[i] })),
    truncated: texts.filter((t) => tokenizer.encode(t, { allowSpecial: false }).length + 1 > maxLen).length,
    seeds: { train: options.trainSeed, eval: options.evalSeed },
  };
}

/** Example indices of a step: a fresh permutation per epoch, seeded, then consecutive slices. */
function batchIndices(n: number, batch: number, seed: number, step: number): number[] {
  const perEpoch = Math.floor(n / batch);
  if (perEpoch < 1) throw new Error(`${n} training pairs cannot fill one batch of ${batch}`);
  const epoch = Math.floor(step / perEpoch);
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = Rng.forName(seed, `epoch-${epoch}`);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const at = (step % perEpoch) * batch;
  return order.slice(at, at + batch);
}

// ---------------------------------------------------------------- graphs

const pixelShape = (cfg: AlignerConfig, batch: number): number[] => [
  batch,
  cfg.image.windows.length,
  cfg.image.imageSize,
  cfg.image.imageSize,
];

interface StageGraph {
  loss: Tensor;
  /** The data inputs a batch must feed. */
  batchAt: (step: number) => Record<string, HostTensor>;
}

/** Stage 2 and the direct recipe: symmetric InfoNCE over the batch's B×B similarities. */
function alignmentGraph(data: AlignData, batch: number, seed: number): StageGraph {
  const cfg = data.config;
  const g = new Graph();
  const image = alignerImageTower(g, cfg, pixelsInput(g, cfg, batch));
  const text = alignerTextTower(g, cfg, idsInput(g, cfg, batch));
  const loss = infoNceLoss(image.embedding, text.embedding, {
    temperature: cfg.temperature,
    logitScale: alignerLogitScale(g, cfg),
  });
  const per = cfg.image.windows.length * cfg.image.imageSize ** 2;
  const t = cfg.text.maxLen;
  return {
    loss,
    batchAt: (step) => {
      const rows = batchIndices(data.n, batch, seed, step);
      return {
        pixels: {
          dtype: "float32",
          shape: pixelShape(cfg, batch),
          data: gatherRows(data.pixels, rows, per),
        },
        ids: { dtype: "int64", shape: [batch, t], data: gatherRows(data.ids, rows, t) },
      };
    },
  };
}

/** Stage 1: finding classification on the image tower + masked-token prediction on the text tower. */
function pretrainGraph(data: AlignData, batch: number, seed: number, preset: AlignPreset): StageGraph {
  const cfg = data.config;
  const g = new Graph();
  const heads = new Scope(g).child("pretrain");
  const labelCount = FINDING_LABELS.length;
  const image = alignerImageTower(g, cfg, pixelsInput(g, cfg, batch));
  const labels = g.input("labels", "float32", [batch, labelCount]);
  const classLogits = linear(heads.child("image_classifier"), image.features, labelCount, { bias: true }); // [B, L]
  const ids = idsInput(g, cfg, batch);
  const targets = g.input("mlm_targets", "int64", [batch, cfg.text.maxLen]);
  const weights = g.input("mlm_weights", "float32", [batch, cfg.text.maxLen]);
  const text = alignerTextTower(g, cfg, ids);
  const tokenLogits = linear(heads.child("mlm_head"), text.tokens, cfg.text.vocab, { bias: true }); // [B, T, V]
  const picked = op.squeeze(op.gatherElements(op.logSoftmax(tokenLogits, -1), op.unsqueeze(targets, -1), 2), -1); // [B, T]
  const mlmLoss = op.neg(op.div(op.reduceSum(op.mul(picked, weights)), op.add(op.reduceSum(weights), 1e-6)));
  let loss = op.add(binaryCrossEntropyWithLogits(classLogits, labels), mlmLoss);
  if (preset.textClassification) {
    const textLogits = linear(heads.child("text_classifier"), text.features, labelCount, { bias: true }); // [B, L]
    loss = op.add(loss, binaryCrossEntropyWithLogits(textLogits, labels));
  }
  const per = cfg.image.windows.length * cfg.image.imageSize ** 2;
  const t = cfg.text.maxLen;
  return {
    loss,
    batchAt: (step) => {
      const rows = batchIndices(data.n, batch, seed, step);
      const original = gatherRows(data.ids, rows, t);
      const masked = new Float32Array(batch * t);
      const input = BigInt64Array.from(original);
      const rng = Rng.forName(seed, `mask-${step}`);
      for (let i = 0; i < batch * t; i++) {
        const id = Number(original[i]);
        if (i % t === 0 || id === PAD_ID || rng.next() >= preset.maskRatio) continue;
        masked[i] = 1;
        input[i] = BigInt(MASK_ID);
      }
      return {
        pixels: {
          dtype: "float32",
          shape: pixelShape(cfg, batch),
          data: gatherRows(data.pixels, rows, per),
        },
        labels: {
          dtype: "float32",
          shape: [batch, labelCount],
          data: gatherRows(data.labels, rows, labelCount),
        },
        ids: { dtype: "int64", shape: [batch, t], data: input },
        mlm_targets: { dtype: "int64", shape: [batch, t], data: original },
        mlm_weights: { dtype: "float32", shape: [batch, t], data: masked },
      };
    },
  };
}

// ---------------------------------------------------------------- the run

export type AlignStage = "pretrain" | "align";

export interface AlignProgress {
  stage: AlignStage;
  /** Steps done over both stages, and the total. */
  step: number;
  steps: number;
  loss: number;
  msPerStep: number;
  /** Held-out image→text R@1 on the monitor subset, at evaluation points. */
  monitorR1?: number;
}

export interface TrainAlignOptions {
  recipe: AlignRecipe;
  preset: AlignPresetName;
  /**
   * Model folder to write; nothing is saved when absent. While training, <out>/checkpoint
   * holds the latest evaluation point (a crashed run keeps it); the final model folder
   * replaces it.
   */
  out?: string;
  /** Initialisation and batch-order seed. */
  seed?: number;
  trainSeed?: number;
  evalSeed?: number;
  /** Overrides of the preset (smaller runs, ablations). */
  steps?: number;
  /** Progressive: stage-1 steps (default: the preset's share of `steps`). */
  pretrainSteps?: number;
  trainPairs?: number;
  evalPairs?: number;
  threads?: number;
  /** Data already prepared (the comparison reuses one set for both recipes). */
  data?: AlignData;
  onStart?: (info: { params: number; vocab: number; trainPairs: number; heldOut: number; maxLen: number }) => void;
  onProgress?: (p: AlignProgress) => void;
}

export interface AlignMetrics {
  recipe: AlignRecipe;
  preset: AlignPresetName;
  heldOut: RetrievalMetrics & { seed: number };
  /** Retrieval among (up to) as many training pairs: how well the training set is fitted. */
  train: RetrievalMetrics & { seed: number };
  /** Compute: optimizer steps × batch per stage; every step feeds `batch` images and `batch` texts. */
  compute: { batch: number; pretrainSteps: number; alignSteps: number; examplesPerTower: number };
  wallSeconds: number;
  params: number;
  inverseTemperature: number;
}

export interface TrainAlignResult {
  aligner: Aligner;
  metrics: AlignMetrics;
}

export const DEFAULT_ALIGN_SEEDS = { seed: 0, trainSeed: 1, evalSeed: 2 } as const;

export async function trainAlign(options: TrainAlignOptions): Promise<TrainAlignResult> {
  const preset: AlignPreset = alignPresets[options.preset];
  const seed = options.seed ?? DEFAULT_ALIGN_SEEDS.seed;
  const steps = options.steps ?? preset.steps;
  const pretrainSteps =
    options.recipe === "progressive" ? (options.pretrainSteps ?? Math.round((preset.pretrainSteps / preset.steps) * steps)) : 0;
  if (!Number.isInteger(pretrainSteps) || pretrainSteps < 0 || pretrainSteps > steps)
    throw new RangeError(`pretrainSteps must be an integer from 0 to steps (${steps}), got ${pretrainSteps}`);
  const data =
    options.data ??
    prepareAlignData(preset, {
      trainSeed: options.trainSeed ?? DEFAULT_ALIGN_SEEDS.trainSeed,
      evalSeed: options.evalSeed ?? DEFAULT_ALIGN_SEEDS.evalSeed,
      trainPairs: options.trainPairs,
      evalPairs: options.evalPairs,
    });
  const cfg = data.config;
  const align = alignmentGraph(data, preset.batch, seed);
  const store = ParamStore.fromGraph(align.loss.graph, seed);
  const pretrain = pretrainSteps > 0 ? pretrainGraph(data, preset.batch, seed, preset) : undefined;
  if (pretrain) store.initMissing(pretrain.loss.graph, seed);
  const fileConfig: AlignerFileConfig = {
    kind: ALIGNER_KIND,
    model: cfg,
    training: {
      recipe: options.recipe,
      preset: options.preset,
      steps,
      pretrainSteps,
      batch: preset.batch,
      seed,
      ...data.seeds,
      trainPairs: data.n,
    },
  };
  const aligner = new Aligner(fileConfig, store, data.tokenizer, options.threads);
  options.onStart?.({
    params: [...store.values.keys()].filter((k) => !k.startsWith("pretrain.")).reduce((a, k) => a + store.get(k).data.length, 0),
    vocab: cfg.text.vocab,
    trainPairs: data.n,
    heldOut: data.heldOut.length,
    maxLen: cfg.text.maxLen,
  });
  const monitor = data.heldOut.slice(0, preset.monitorPairs);
  const evalEvery = Math.max(1, Math.floor(steps / preset.evals));
  const started = performance.now();
  const runStage = async (stage: AlignStage, graph: StageGraph, first: number, count: number) => {
    if (count <= 0) return;
    const trainStep = await TrainStep.create(graph.loss, store, { threads: options.threads, optimizer: { weightDecay: 0.05 } });
    const schedule = cosineSchedule({ lr: preset.lr, warmup: Math.max(1, Math.min(50, Math.floor(count / 10))), total: count });
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const r = await trainStep.run(graph.batchAt(i), schedule(i));
      const done = first + i + 1;
      let monitorR1: number | undefined;
      if (stage === "align" && (done % evalEvery === 0 || done === steps)) {
        monitorR1 = (await evaluateRetrieval(aligner, monitor)).i2t.r1;
        if (options.out)
          await saveCheckpoint(`${options.out}/checkpoint`, {
            store,
            trainStep,
            config: fileConfig,
            state: { stage, step: done },
          });
      }
      options.onProgress?.({ stage, step: done, steps, loss: r.loss, msPerStep: performance.now() - t0, monitorR1 });
    }
  };
  if (pretrain) await runStage("pretrain", pretrain, 0, pretrainSteps);
  await runStage("align", align, pretrainSteps, steps - pretrainSteps);
  const wallSeconds = (performance.now() - started) / 1000;

  const heldOut = await evaluateRetrieval(aligner, data.heldOut);
  const trainFit = await evaluateRetrieval(aligner, data.trainSample);
  const metrics: AlignMetrics = {
    recipe: options.recipe,
    preset: options.preset,
    heldOut: { ...heldOut, seed: data.seeds.eval },
    train: { ...trainFit, seed: data.seeds.train },
    compute: {
      batch: preset.batch,
      pretrainSteps,
      alignSteps: steps - pretrainSteps,
      examplesPerTower: steps * preset.batch,
    },
    wallSeconds,
    params: [...store.values.keys()].filter((k) => !k.startsWith("pretrain.")).reduce((a, k) => a + store.get(k).data.length, 0),
    inverseTemperature: aligner.inverseTemperature(),
  };
  if (options.out) await saveAligner(options.out, { config: fileConfig, store, tokenizer: data.tokenizer, metrics });
  return { aligner, metrics };
}

export interface AlignComparison {
  progressive: AlignMetrics;
  direct: AlignMetrics;
  /** (progressive - direct) / direct held-out R@1, per direction; null where direct's R@1 is 0. */
  relativeR1Gain: { i2t: number | null; t2i: number | null };
}

/**
 * Train both recipes at equal compute (same steps × batch, same data, same initial weights)
 * and compare held-out retrieval. Models are written to `<out>/progressive` and `<out>/direct` when `out` is given.
 */
export async function compareAlignRecipes(
  options: Omit<TrainAlignOptions, "recipe" | "data" | "out"> & {
    out?: string;
    onRecipe?: (recipe: AlignRecipe) => void;
  },
): Promise<AlignComparison> {
  const preset = alignPresets[options.preset];
  const data = prepareAlignData(preset, {
    trainSeed: options.trainSeed ?? DEFAULT_ALIGN_SEEDS.trainSeed,
    evalSeed: options.evalSeed ?? DEFAULT_ALIGN_SEEDS.evalSeed,
    trainPairs: options.trainPairs,
    evalPairs: options.evalPairs,
  });
  const run = async (recipe: AlignRecipe) => {
    options.onRecipe?.(recipe);
    return (await trainAlign({ ...options, recipe, data, out: options.out ? `${options.out}/${recipe}` : undefined })).metrics;
  };
  const progressive = await run("progressive");
  const direct = await run("direct");
  const gain = (p: number, d: number) => (d > 0 ? (p - d) / d : null);
  return {
    progressive,
    direct,
    relativeR1Gain: {
      i2t: gain(progressive.heldOut.i2t.r1, direct.heldOut.i2t.r1),
      t2i: gain(progressive.heldOut.t2i.r1, direct.heldOut.t2i.r1),
    },
  };
}
