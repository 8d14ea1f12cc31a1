// The MoE LM recipe: corpus (Debian fortunes in English and Chinese, TypeScript code),
// a byte-level BPE tokenizer trained on it, the model preset, the training loop with
// router balancing, held-out evaluation, checkpoints, resume and the saved model folder.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { type BpeTokenizer, type MixedCorpusSizes, mixedCorpus, trainBpe, unigramCrossEntropy } from "../data/index.js";
import { loadMoeLm, MODEL_KIND, type MoeLmConfig, MoeLmConfig as MoeLmConfigSchema, saveMoeLm } from "../models/index.js";
import { defaultMoeConfig } from "../nn/index.js";
import { loadCheckpoint, ParamStore, saveCheckpoint } from "../runtime/index.js";
import { type DomainTokens, type RouterStats, setupMoeLmTraining } from "./moeLm.js";
import { cosineSchedule } from "./schedule.js";

export interface LmPreset {
  model: Omit<MoeLmConfig, "vocab">;
  vocab: number;
  corpus: MixedCorpusSizes;
  batch: number;
  seqLen: number;
  steps: number;
  lr: number;
}

const base = { ropeTheta: 10000, normEps: 1e-6, tieEmbeddings: true };

export const lmPresets: Record<"tiny" | "small", LmPreset> = {
  // Trains in about 4 minutes on 2 cores.
  tiny: {
    model: {
      ...base,
      maxSeq: 256,
      dim: 128,
      heads: 4,
      layers: 3,
      denseLayers: 1,
      denseHidden: 384,
      moe: { ...defaultMoeConfig, expertHidden: 32, scoreFunc: "sigmoid", biasUpdateRate: 2e-3, auxLossWeight: 1e-3 },
    },
    vocab: 2048,
    corpus: { en: 300_000, zh: 100_000, code: 150_000 },
    batch: 8,
    seqLen: 96,
    steps: 1500,
    lr: 3e-3,
  },
  // The int8 benchmark's model: wider, more layers, larger vocabulary.
  small: {
    model: {
      ...base,
      maxSeq: 512,
      dim: 384,
      heads: 6,
      layers: 4,
      denseLayers: 1,
      denseHidden: 1024,
      moe: { ...defaultMoeConfig, expertHidden: 96, scoreFunc: "sigmoid", biasUpdateRate: 1e-3, auxLossWeight: 1e-3 },
    },
    vocab: 8192,
    corpus: { en: 1_000_000, zh: 400_000, code: 400_000 },
    batch: 8,
    seqLen: 256,
    steps: 3000,
    lr: 1.5e-3,
  },
};
export type LmPresetName = keyof typeof lmPresets;

export interface LmCorpus {
  train: DomainTokens[];
  valid: DomainTokens[];
  /** Held-out cross-entropy of a unigram model (nats/token): the baseline. */
  unigram: number;
}

/** Tokenize the three corpora; the last 10% of each is held out. No domain hints: the router learns. */
export function tokenizeCorpus(tokenizer: BpeTokenizer, sizes: MixedCorpusSizes): LmCorpus {
  const texts = mixedCorpus(sizes);
  const train: DomainTokens[] = [];
  const valid: DomainTokens[] = [];
  for (const text of [texts.en, texts.zh, texts.code]) {
    const ids = Int32Array.from(tokenizer.encode(text, { allowSpecial: false }));
    const cut = Math.floor(ids.length * 0.9);
    train.push({ tokens: ids.subarray(0, cut), domain: -1, weight: cut });
    valid.push({ tokens: ids.subarray(cut), domain: -1, weight: ids.length - cut });
  }
  const concat = (parts: DomainTokens[]) => Int32Array.from(parts.flatMap((p) => Array.from(p.tokens)));
  return { train, valid, unigram: unigramCrossEntropy(concat(train), concat(valid), tokenizer.vocabSize) };
}

export interface LmProgress {
  step: number;
  steps: number;
  loss: number;
  tokensPerSec: number;
  stats: RouterStats;
  evalLoss?: number;
}

export interface TrainLmOptions {
  preset: LmPresetName;
  out: string;
  steps?: number;
  seed: number;
  threads?: number;
  resume: boolean;
  /** Router balancing (bias update and aux loss); off for the ablation. */
  balance: boolean;
  /** Stop after this many steps as if interrupted (checkpoint kept; `resume` continues). */
  stopAt?: number;
  onProgress?: (p: LmProgress) => void;
  /** Called once before training with what was set up. */
  onStart?: (info: { params: number; vocab: number; trainTokens: number; unigram: number; startStep: number }) => void;
}

export interface TrainLmResult {
  evalLoss: number;
  unigram: number;
  stats: RouterStats;
}

export async function trainLm(options: TrainLmOptions): Promise<TrainLmResult> {
  const preset = lmPresets[options.preset];
  const steps = options.steps ?? preset.steps;
  const checkpointDir = join(options.out, "checkpoint");
  const resuming = options.resume && existsSync(join(checkpointDir, "model.safetensors"));
  // The tokenizer is trained once and saved with the model; a resumed run reuses it.
  let tokenizer: BpeTokenizer;
  let store: ParamStore | undefined;
  let ckpt: Awaited<ReturnType<typeof loadCheckpoint>> | undefined;
  if (resuming) {
    ckpt = await loadCheckpoint(checkpointDir);
    tokenizer = (await loadMoeLm(options.out)).tokenizer;
    store = ckpt.store;
  } else {
    const texts = mixedCorpus(preset.corpus);
    tokenizer = trainBpe([texts.en, texts.zh, texts.code], { vocabSize: preset.vocab });
  }
  const moe = options.balance ? preset.model.moe : { ...preset.model.moe, biasUpdateRate: 0, auxLossWeight: 0 };
  const cfg = MoeLmConfigSchema.parse({ ...preset.model, moe, vocab: tokenizer.vocabSize });
  const corpus = tokenizeCorpus(tokenizer, preset.corpus);
  const t = await setupMoeLmTraining({
    cfg,
    batch: preset.batch,
    seqLen: preset.seqLen,
    seed: options.seed,
    store: store ?? new ParamStore(),
    domainHints: false,
    gumbelAnnealSteps: Math.floor(steps / 2),
    trainStep: { threads: options.threads },
  });
  if (ckpt?.moments) t.trainStep.restore(ckpt.moments, ckpt.step);
  const fileConfig = {
    kind: MODEL_KIND,
    model: cfg,
    training: {
      preset: options.preset,
      steps,
      seed: options.seed,
      corpus: preset.corpus,
      balance: options.balance,
      batch: preset.batch,
      seqLen: preset.seqLen,
    },
  } as const;
  if (!resuming) await saveMoeLm(options.out, { config: fileConfig, store: t.store, tokenizer });
  options.onStart?.({
    params: t.store.count(),
    vocab: cfg.vocab,
    trainTokens: corpus.train.reduce((a, s) => a + s.tokens.length, 0),
    unigram: corpus.unigram,
    startStep: t.trainStep.stepCount,
  });
  const schedule = cosineSchedule({ lr: preset.lr, warmup: Math.min(50, Math.floor(steps / 10)), total: steps });
  const tokensPerStep = preset.batch * preset.seqLen;
  const evalEvery = Math.max(1, Math.floor(steps / 5));
  while (t.trainStep.stepCount < Math.min(steps, options.stopAt ?? steps)) {
    const step = t.trainStep.stepCount;
    const t0 = performance.now();
    const r = await t.trainStep.run(t.batchAt(corpus.train, options.seed, step, true), schedule(step));
    const stats = t.afterStep(r.extras);
    const done = t.trainStep.stepCount;
    let evalLoss: number | undefined;
    if (done % evalEvery === 0 || done === steps || done === options.stopAt) {
      evalLoss = (await t.evaluate(corpus.valid, options.seed + 1, 4)).loss;
      await saveCheckpoint(checkpointDir, { store: t.store, trainStep: t.trainStep, config: fileConfig });
    }
    options.onProgress?.({
      step: done,
      steps,
      loss: r.loss,
      tokensPerSec: (tokensPerStep * 1000) / (performance.now() - t0),
      stats,
      evalLoss,
    });
  }
  await saveMoeLm(options.out, { config: fileConfig, store: t.store, tokenizer });
  const final = await t.evaluate(corpus.valid, options.seed + 1, 8);
  return { evalLoss: final.loss, unigram: corpus.unigram, stats: final.stats };
}
