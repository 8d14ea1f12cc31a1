// Train the emotion classifier end to end: generated sentences (with VADER's vocabulary
// for coverage) interleaved with real IMDB and Yelp review sentences labelled only by
// polarity -> featuriser -> the engine's recipe -> a model folder with config.json,
// model.safetensors and metrics.json (held-out synthetic, validation, the review dev set,
// and the real Amazon test sentences against AFINN and VADER, measured once after training).

import type { EmotionClassifierConfig } from "../../../models/index.js";
import { jsonFile, Rng, writeModelFolder } from "../../../runtime/index.js";
import {
  type EmotionHyperparameters,
  type EmotionProgress,
  type EmotionTrainResult,
  type LabelledText,
  trainEmotionClassifier,
} from "../../../train/index.js";
import { EMOTIONS } from "../faceRig.js";
import {
  EMOTION_MODEL_KIND,
  type EmotionModelFileConfig,
  featurizerConfigOf,
  loadEmotionClassifier,
  saveEmotionModel,
} from "./classifier.js";
import { type EmotionEvaluation, evaluateEmotionClassifier, HELD_OUT_SEED_OFFSET, readVaderVocabulary } from "./evaluate.js";
import { featurize, SEGMENTS } from "./featurize.js";
import { type EmotionSample, EmotionSentenceGenerator, emotionIndex } from "./generator.js";
import { type ReviewSentence, reviewSplit } from "./realSentences.js";

export const DEFAULT_EMOTION_SEED = 7;
/** Share of training samples that are real review sentences (the rest are generated). */
export const DEFAULT_REVIEW_SHARE = 0.1;

/** The shipped architecture: 65 536 buckets × 16 (about 2 MB in float16) plus a tiny head. */
export const defaultEmotionModelConfig: EmotionClassifierConfig = {
  buckets: 65536,
  maxTokens: 48,
  featuresPerToken: 6,
  dim: 16,
  tokenDim: 32,
  hidden: 32,
  classes: EMOTIONS.length,
  segments: SEGMENTS,
};

export interface TrainEmotionModelOptions {
  out: string;
  steps?: number;
  seed?: number;
  threads?: number;
  /** Skip the final evaluation (tests). */
  evaluate?: boolean;
  heldOutSize?: number;
  config?: Partial<EmotionClassifierConfig>;
  batch?: number;
  /** Any other recipe setting (learning rate, weight decay, feature dropout, …). */
  hyper?: Partial<EmotionHyperparameters>;
  /** Share of real review sentences among the training samples; 0 trains on generated ones only. */
  reviewShare?: number;
  /** Review labels choose only between the polar classes (default), or against all classes. */
  reviewsPolarOnly?: boolean;
  onProgress?: (p: EmotionProgress) => void;
}

export interface TrainEmotionModelResult {
  train: EmotionTrainResult;
  evaluation?: EmotionEvaluation;
}

const labelled = (s: EmotionSample): LabelledText => ({
  text: s.text,
  labels: [emotionIndex(s.emotion)],
  intensity: s.intensity,
  group: s.lang,
});

/**
 * A review says only its polarity: happy rather than sad or angry, or the reverse. Nothing
 * about neutral or surprised (so review-like facts are not pushed away from neutral), and no intensity.
 */
const POSITIVE = [emotionIndex("happy")];
const NEGATIVE = [emotionIndex("sad"), emotionIndex("angry")];
const POLAR = [...POSITIVE, ...NEGATIVE];
const reviewLabelled = (s: ReviewSentence, polarOnly: boolean): LabelledText => ({
  text: s.text,
  labels: s.positive ? POSITIVE : NEGATIVE,
  ...(polarOnly ? { considered: POLAR } : {}),
  group: s.corpus,
});

/**
 * Sample i of the training stream: a real review when floor((i+1)·share) steps up (so the
 * reviews are spread evenly), else the next generated sentence. Reviews go round in a fresh
 * seeded order each pass.
 */
export function interleaveReviews(
  generated: (i: number) => LabelledText,
  reviews: readonly LabelledText[],
  share: number,
  seed: number,
): (i: number) => LabelledText {
  const orders = new Map<number, number[]>();
  const orderOf = (pass: number): number[] => {
    let order = orders.get(pass);
    if (!order) {
      const rng = Rng.forName(seed, `reviews.${pass}`);
      order = reviews.map((_, k) => k);
      for (let k = order.length - 1; k > 0; k--) {
        const j = rng.int(k + 1);
        [order[k], order[j]] = [order[j], order[k]];
      }
      orders.set(pass, order);
    }
    return order;
  };
  return (i) => {
    const before = Math.floor(i * share);
    const through = Math.floor((i + 1) * share);
    if (through === before || reviews.length === 0) return generated(i - before);
    return reviews[orderOf(Math.floor(before / reviews.length))[before % reviews.length]];
  };
}

export async function trainEmotionModel(options: TrainEmotionModelOptions): Promise<TrainEmotionModelResult> {
  const seed = options.seed ?? DEFAULT_EMOTION_SEED;
  const config = { ...defaultEmotionModelConfig, ...options.config };
  const vocabulary = readVaderVocabulary();
  const generator = new EmotionSentenceGenerator(seed, { vocabulary });
  const heldOut = new EmotionSentenceGenerator(seed + HELD_OUT_SEED_OFFSET, { vocabulary }).samples(
    0,
    options.heldOutSize ?? 2000,
  );
  const fcfg = featurizerConfigOf(config);
  const reviewShare = options.reviewShare ?? DEFAULT_REVIEW_SHARE;
  if (!(reviewShare >= 0 && reviewShare < 1)) throw new Error(`reviewShare must be in [0, 1), got ${reviewShare}`);
  const reviews = reviewShare > 0 ? reviewSplit().train.map((s) => reviewLabelled(s, options.reviewsPolarOnly ?? true)) : [];
  const train = await trainEmotionClassifier({
    config,
    seed,
    threads: options.threads,
    hyper: {
      ...options.hyper,
      ...(options.steps ? { steps: options.steps } : {}),
      ...(options.batch ? { batch: options.batch } : {}),
    },
    data: {
      sample: interleaveReviews((i) => labelled(generator.sample(i)), reviews, reviewShare, seed),
      heldOut: heldOut.map(labelled),
      featurize: (texts) => featurize(texts, fcfg),
    },
    onProgress: options.onProgress,
  });
  const fileConfig: EmotionModelFileConfig = {
    kind: EMOTION_MODEL_KIND,
    emotions: [...EMOTIONS],
    model: config,
    training: {
      seed,
      steps: train.losses.length,
      data:
        reviewShare > 0
          ? `generated by src/apps/avatar/emotion/generator.ts (templates × lexicons, en + zh) with VADER's vocabulary; ${reviews.length} IMDB + Yelp review sentences (UCI Sentiment Labelled Sentences, polarity only) as ${reviewShare} of the samples`
          : "generated by src/apps/avatar/emotion/generator.ts (templates × lexicons, en + zh) with VADER's vocabulary",
      reviewShare,
      finalLoss: train.losses.at(-1),
      wallSeconds: Math.round(train.wallSeconds),
    },
  };
  await saveEmotionModel(options.out, fileConfig, train.store);
  if (options.evaluate === false) return { train };
  const classifier = await loadEmotionClassifier(options.out); // the float16 weights as shipped
  const evaluation = await evaluateEmotionClassifier(classifier, { trainSeed: seed, heldOutSize: options.heldOutSize });
  await writeModelFolder(
    options.out,
    { "metrics.json": jsonFile({ ...evaluation, training: fileConfig.training }) },
    { keep: "others" },
  );
  return { train, evaluation };
}
