// Training recipe of the emotion classifier: cross-entropy on the emotion (against a set of
// acceptable emotions, so polarity-only labels fit too) plus a squared error on the
// intensity where one is known, AdamW with warmup + cosine decay, one ONNX Runtime call per step.
// The data comes in as a sample stream and a featuriser (the app writes both), so this
// layer knows nothing about sentences: batch k is samples [k·B, (k+1)·B) of the stream.
//
// Dims: B batch, T tokens, F feature slots, C emotions.

import { Graph, op } from "../graph/index.js";
import {
  type EmotionClassifierConfig,
  type EmotionFeatures,
  emotionClassifier,
  emotionFeeds,
  emotionInputs,
} from "../models/index.js";
import { Scope } from "../nn/index.js";
import { Evaluator, type HostTensor, ParamStore, Rng, TrainStep } from "../runtime/index.js";
import { trainLoop } from "./loop.js";
import { setCrossEntropy } from "./losses.js";
import { cosineSchedule } from "./schedule.js";

/**
 * One labelled text: the class indices that count as right (one for a generated sentence; a
 * review labelled only by polarity allows happy, or sad and angry), the classes the label
 * chooses among (all if absent; a review's polarity says nothing about neutral or
 * surprised), the intensity target in [0, 1] if known, and a group for per-group accuracy
 * (language, corpus).
 */
export interface LabelledText {
  text: string;
  labels: readonly number[];
  considered?: readonly number[];
  intensity?: number;
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
  /** Mean absolute error of the intensity, over the texts that have one (NaN if none). */
  intensityMae: number;
}

export interface EmotionTrainResult {
  store: ParamStore;
  losses: number[];
  heldOut: HeldOutScore;
  wallSeconds: number;
}

/** Logit bias of a class a label does not allow: exp(-1e4) is 0 in float32, and no overflow. */
const NOT_ALLOWED = -1e4;

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
  let withIntensity = 0;
  const byGroup: Record<string, { n: number; correct: number }> = {};
  const chunk = 256;
  for (let from = 0; from < texts.length; from += chunk) {
    const part = texts.slice(from, from + chunk);
    const r = await evaluator.run(emotionFeeds(data.featurize(part.map((t) => t.text)), part.length, cfg));
    const probs = r.probs.data as Float32Array;
    part.forEach((t, i) => {
      let best = 0;
      for (let c = 1; c < cfg.classes; c++) if (probs[i * cfg.classes + c] > probs[i * cfg.classes + best]) best = c;
      const ok = t.labels.includes(best);
      correct += ok ? 1 : 0;
      if (t.intensity !== undefined) {
        absError += Math.abs((r.intensity.data[i] as number) - t.intensity);
        withIntensity++;
      }
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
    intensityMae: withIntensity > 0 ? absError / withIntensity : Number.NaN,
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

export async function trainEmotionClassifier(options: TrainEmotionOptions): Promise<EmotionTrainResult> {
  const t0 = performance.now();
  const hp = { ...defaultEmotionHyperparameters, ...options.hyper };
  const cfg = options.config;
  const g = new Graph();
  const inputs = emotionInputs(g, cfg, hp.batch);
  const allowedBias = g.input("allowed_bias", "float32", [hp.batch, cfg.classes]); // 0 or NOT_ALLOWED
  const consideredBias = g.input("considered_bias", "float32", [hp.batch, cfg.classes]);
  const anyAllowed = g.input("any_allowed", "int64", [hp.batch]);
  const intensityTarget = g.input("intensity", "float32", [hp.batch]);
  const intensityKnown = g.input("intensity_known", "float32", [hp.batch]); // 1 or 0
  const out = emotionClassifier(new Scope(g), cfg, inputs);
  const intensityError = op.mul(op.sub(op.sigmoid(out.intensityLogit), intensityTarget), intensityKnown); // [B]
  const loss = op.add(
    op.reduceMean(setCrossEntropy(out.logits, allowedBias, anyAllowed, consideredBias)),
    op.mul(op.reduceMean(op.mul(intensityError, intensityError)), hp.intensityWeight),
  );
  const store = ParamStore.fromGraph(g, options.seed);
  const trainStep = await TrainStep.create(loss, store, {
    optimizer: { weightDecay: hp.weightDecay, beta2: 0.99 },
    threads: options.threads,
  });
  const batchAt = (step: number): Record<string, HostTensor> => {
    const samples = Array.from({ length: hp.batch }, (_, i) => options.data.sample(step * hp.batch + i));
    for (const s of samples)
      if (
        s.labels.length === 0 ||
        s.labels.some((c) => !Number.isInteger(c) || c < 0 || c >= cfg.classes || (s.considered && !s.considered.includes(c)))
      )
        throw new Error(
          `emotion training: "${s.text.slice(0, 40)}" has labels [${s.labels}], expected class indices in [0, ${cfg.classes}) among the considered [${s.considered ?? "all"}]`,
        );
    const bias = (inSet: (s: LabelledText, c: number) => boolean): HostTensor => ({
      dtype: "float32",
      shape: [hp.batch, cfg.classes],
      data: Float32Array.from({ length: hp.batch * cfg.classes }, (_, k) =>
        inSet(samples[Math.floor(k / cfg.classes)], k % cfg.classes) ? 0 : NOT_ALLOWED,
      ),
    });
    const features = options.data.featurize(samples.map((s) => s.text));
    const rng = Rng.forName(options.seed, `feature-dropout.${step}`);
    for (let i = 0; i < features.ids.length; i++)
      if (features.ids[i] !== 0n && rng.next() < hp.featureDropout) features.ids[i] = 0n;
    return {
      ...emotionFeeds(features, hp.batch, cfg),
      allowed_bias: bias((s, c) => s.labels.includes(c)),
      considered_bias: bias((s, c) => s.considered?.includes(c) ?? true),
      any_allowed: { dtype: "int64", shape: [hp.batch], data: BigInt64Array.from(samples, (s) => BigInt(s.labels[0])) },
      intensity: { dtype: "float32", shape: [hp.batch], data: Float32Array.from(samples, (s) => s.intensity ?? 0) },
      intensity_known: {
        dtype: "float32",
        shape: [hp.batch],
        data: Float32Array.from(samples, (s) => (s.intensity === undefined ? 0 : 1)),
      },
    };
  };
  const { losses } = await trainLoop({
    trainStep,
    store,
    steps: hp.steps,
    schedule: cosineSchedule({ lr: hp.lr, warmup: hp.warmup, total: hp.steps, minLr: hp.lr / 20 }),
    batchAt,
    onStep: (s) => options.onProgress?.({ step: s.step, steps: s.steps, loss: s.loss, msPerStep: s.ms }),
  });
  const heldOut = await scoreEmotion(store, cfg, options.data, options.data.heldOut, options.threads);
  return { store, losses, heldOut, wallSeconds: (performance.now() - t0) / 1000 };
}
