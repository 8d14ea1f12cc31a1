// Training recipe of the emotion classifier: cross-entropy on the emotion plus a squared
// error on the intensity, AdamW with warmup + cosine decay, one ONNX Runtime call per step.
// The data comes in as a sample stream and a featuriser (the app writes both), so this
// layer knows nothing about sentences: batch k is samples [k·B, (k+1)·B) of the stream.
//
// Dims: B batch, T tokens, F feature slots, C emotions.

import { Graph, op } from "../graph/index.js";
import {
  type EmotionClassifierConfig,
  type EmotionFeatures,
  emotionClassifier,
  emotionInputs,
} from "../models/emotionClassifier.js";
import { Scope } from "../nn/scope.js";
import { ParamStore } from "../runtime/params.js";
import { Rng } from "../runtime/rng.js";
import type { HostTensor } from "../runtime/session.js";
import { Evaluator, TrainStep } from "../runtime/trainStep.js";
import { trainLoop } from "./loop.js";
import { crossEntropy } from "./losses.js";
import { cosineSchedule } from "./schedule.js";

/** One labelled text: its class index, intensity target in [0, 1] and a group for per-group accuracy (e.g. language). */
export interface LabelledText {
  text: string;
  label: number;
  intensity: number;
  group: string;
}

export interface EmotionTrainingData {
  /** The i-th training sample (a pure function of i). */
  sample: (i: number) => LabelledText;
  /** Held-out samples, scored at the end (and every `evalEvery` steps). */
  heldOut: readonly LabelledText[];
  featurize: (texts: readonly string[]) => EmotionFeatures;
}

export interface EmotionHyperparameters {
  steps: number;
  batch: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  /** Weight of the intensity squared error next to the cross-entropy. */
  intensityWeight: number;
  /** Share of feature ids blanked in training batches, so no single n-gram is relied on. */
  featureDropout: number;
}

/** The shipped recipe (chosen on the synthetic held-out split and the hand-written validation set). */
export const defaultEmotionHyperparameters: EmotionHyperparameters = {
  steps: 2500,
  batch: 128,
  lr: 5e-3,
  warmup: 100,
  weightDecay: 0.01,
  intensityWeight: 1,
  featureDropout: 0.1,
};

export interface EmotionProgress {
  step: number;
  steps: number;
  loss: number;
  msPerStep: number;
}

export interface HeldOutScore {
  n: number;
  accuracy: number;
  /** Accuracy per group. */
  byGroup: Record<string, { n: number; accuracy: number }>;
  /** Mean absolute error of the intensity. */
  intensityMae: number;
}

export interface EmotionTrainResult {
  store: ParamStore;
  losses: number[];
  heldOut: HeldOutScore;
  wallSeconds: number;
}

const hostFeatures = (f: EmotionFeatures, n: number, cfg: EmotionClassifierConfig): Record<string, HostTensor> => ({
  ids: { dtype: "int64", shape: [n, cfg.maxTokens, cfg.featuresPerToken], data: f.ids },
  negated: { dtype: "float32", shape: [n, cfg.maxTokens], data: f.negated },
  segment: { dtype: "int64", shape: [n, cfg.maxTokens], data: f.segment },
  mask: { dtype: "float32", shape: [n, cfg.maxTokens], data: f.mask },
});

/** Feeds for a batch of texts (shared by training and inference). */
export const emotionFeeds = hostFeatures;

/** Score a store on labelled texts with a forward-only graph. */
export async function scoreEmotion(
  store: ParamStore,
  cfg: EmotionClassifierConfig,
  data: Pick<EmotionTrainingData, "featurize">,
  texts: readonly LabelledText[],
  threads?: number,
): Promise<HeldOutScore> {
  const g = new Graph();
  const out = emotionClassifier(new Scope(g), cfg, emotionInputs(g, cfg, "B"));
  const evaluator = await Evaluator.create(
    { probs: op.softmax(out.logits, -1), intensity: op.sigmoid(out.intensityLogit) },
    store,
    threads,
  );
  let correct = 0;
  let absError = 0;
  const byGroup: Record<string, { n: number; correct: number }> = {};
  const chunk = 256;
  for (let from = 0; from < texts.length; from += chunk) {
    const part = texts.slice(from, from + chunk);
    const r = await evaluator.run(hostFeatures(data.featurize(part.map((t) => t.text)), part.length, cfg));
    const probs = r.probs.data as Float32Array;
    part.forEach((t, i) => {
      let best = 0;
      for (let c = 1; c < cfg.classes; c++) if (probs[i * cfg.classes + c] > probs[i * cfg.classes + best]) best = c;
      const ok = best === t.label;
      correct += ok ? 1 : 0;
      absError += Math.abs((r.intensity.data[i] as number) - t.intensity);
      byGroup[t.group] ??= { n: 0, correct: 0 };
      byGroup[t.group].n++;
      byGroup[t.group].correct += ok ? 1 : 0;
    });
  }
  const n = Math.max(1, texts.length);
  return {
    n: texts.length,
    accuracy: correct / n,
    byGroup: Object.fromEntries(Object.entries(byGroup).map(([k, v]) => [k, { n: v.n, accuracy: v.correct / v.n }])),
    intensityMae: absError / n,
  };
}

export interface TrainEmotionOptions {
  config: EmotionClassifierConfig;
  data: EmotionTrainingData;
  hyper?: Partial<EmotionHyperparameters>;
  /** Parameter initialisation seed. */
  seed: number;
  threads?: number;
  onProgress?: (p: EmotionProgress) => void;
}

export async function trainEmotionClassifier(o: TrainEmotionOptions): Promise<EmotionTrainResult> {
  const t0 = performance.now();
  const hp = { ...defaultEmotionHyperparameters, ...o.hyper };
  const cfg = o.config;
  const g = new Graph();
  const inputs = emotionInputs(g, cfg, hp.batch);
  const labels = g.input("labels", "int64", [hp.batch]);
  const intensityTarget = g.input("intensity", "float32", [hp.batch]);
  const out = emotionClassifier(new Scope(g), cfg, inputs);
  const intensityError = op.sub(op.sigmoid(out.intensityLogit), intensityTarget); // [B]
  const loss = op.add(
    crossEntropy(out.logits, labels),
    op.mul(op.reduceMean(op.mul(intensityError, intensityError)), hp.intensityWeight),
  );
  const store = ParamStore.fromGraph(g, o.seed);
  const trainStep = await TrainStep.create(loss, store, {
    optimizer: { weightDecay: hp.weightDecay, beta2: 0.99 },
    threads: o.threads,
  });
  const batchAt = (step: number): Record<string, HostTensor> => {
    const samples = Array.from({ length: hp.batch }, (_, i) => o.data.sample(step * hp.batch + i));
    const features = o.data.featurize(samples.map((s) => s.text));
    const rng = Rng.forName(o.seed, `feature-dropout.${step}`);
    for (let i = 0; i < features.ids.length; i++)
      if (features.ids[i] !== 0n && rng.next() < hp.featureDropout) features.ids[i] = 0n;
    return {
      ...hostFeatures(features, hp.batch, cfg),
      labels: { dtype: "int64", shape: [hp.batch], data: BigInt64Array.from(samples, (s) => BigInt(s.label)) },
      intensity: { dtype: "float32", shape: [hp.batch], data: Float32Array.from(samples, (s) => s.intensity) },
    };
  };
  const { losses } = await trainLoop({
    trainStep,
    store,
    steps: hp.steps,
    schedule: cosineSchedule({ lr: hp.lr, warmup: hp.warmup, total: hp.steps, minLr: hp.lr / 20 }),
    batchAt,
    onStep: (s) => o.onProgress?.({ step: s.step, steps: s.steps, loss: s.loss, msPerStep: s.ms }),
  });
  const heldOut = await scoreEmotion(store, cfg, o.data, o.data.heldOut, o.threads);
  return { store, losses, heldOut, wallSeconds: (performance.now() - t0) / 1000 };
}
