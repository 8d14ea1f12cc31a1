// The MoE LM recipe: corpus (Debian fortunes in English and Chinese, TypeScript code; for
// the chat preset also the Debian Reference and Handbook and instruction pairs derived from
// the corpora), a byte-level BPE tokenizer trained on it, the model preset, the training
// loop with router balancing, held-out evaluation, checkpoints, resume and the saved model folder.

import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type BpeTokenizer,
  CHAT_ROLE_TOKENS,
  CHAT_TEMPLATE_JINJA,
  chatTranscript,
  DEFAULT_SPECIAL_TOKENS,
  instructionPairs,
  loadDebianHandbook,
  loadDebianReference,
  type MixedCorpusSizes,
  mixedCorpus,
  pairTurns,
  sectionsText,
  trainBpe,
  unigramCrossEntropy,
} from "../data/index.js";
import {
  type GenerationDefaults,
  generationConfigFile,
  loadMoeLm,
  MODEL_KIND,
  type MoeLmConfig,
  MoeLmConfig as MoeLmConfigSchema,
  saveMoeLm,
} from "../models/index.js";
import { defaultMoeConfig } from "../nn/index.js";
import { jsonFile, loadCheckpoint, ParamStore, saveCheckpoint, writeModelFolder } from "../runtime/index.js";
import { type DomainTokens, type RouterStats, setupMoeLmTraining } from "./moeLm.js";
import { cosineSchedule } from "./schedule.js";

/** What a chat model adds to a base LM's corpus. */
export interface ChatCorpusSpec {
  /** The Debian Reference and the Debian Handbook (en-US, zh-CN), whole. */
  docs: boolean;
  /** Share of training windows drawn from the instruction transcripts. */
  sftShare: number;
  /** From this fraction of the steps on, every window is an instruction transcript. */
  sftOnlyFrom: number;
  /** Seed of the instruction pairs' questions and their held-out split. */
  pairSeed: number;
  /** The sampling the model is shipped with (generation_config.json). */
  generation: GenerationDefaults;
}

export interface LmPreset {
  model: Omit<MoeLmConfig, "vocab">;
  vocab: number;
  corpus: MixedCorpusSizes;
  chat?: ChatCorpusSpec;
  batch: number;
  seqLen: number;
  steps: number;
  lr: number;
}

const base = { ropeTheta: 10000, normEps: 1e-6, tieEmbeddings: true };

export const lmPresets: Record<"tiny" | "small" | "chat" | "base", LmPreset> = {
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
  // The default chat model (assets/chat): documentation, fortunes, poetry and code, then
  // instruction transcripts in the chat template. About 45 minutes on 2 idle cores.
  chat: {
    model: {
      ...base,
      maxSeq: 512,
      dim: 256,
      heads: 8,
      layers: 4,
      denseLayers: 1,
      denseHidden: 768,
      moe: { ...defaultMoeConfig, expertHidden: 32, scoreFunc: "sigmoid", biasUpdateRate: 1e-3, auxLossWeight: 1e-3 },
    },
    vocab: 8192,
    corpus: { en: 1_200_000, zh: 300_000, code: 300_000 },
    chat: {
      docs: true,
      sftShare: 0.3,
      sftOnlyFrom: 0.85,
      pairSeed: 7,
      generation: { temperature: 0.7, topP: 0.9, repetitionPenalty: 1.1 },
    },
    batch: 8,
    seqLen: 256,
    steps: 2400,
    lr: 2e-3,
  },
  // Deployment size, for speed runs (bench/lm-runtimes.ts): fp32 weights far larger than a CPU's
  // last-level cache (32 MiB here), so decoding is bound by memory bandwidth as in production.
  // 178.1M params = 712 MB fp32 (at vocab 16384), of which the routed experts are 125.8M; a
  // decoding step reads only topK/experts = 10/128 of those, so it reads about 62M weights =
  // 248 MB fp32: attention 101 MB, the tied LM head 67 MB, the dense FFN 35 MB, the chosen
  // experts 39 MB, shared experts and routers 7 MB. Usually built seeded and untrained
  // (`trainedOrSeededLm(undefined, "base")`); training it takes hours on 2 cores, so the
  // schedule is short ("briefly trained").
  base: {
    model: {
      ...base,
      maxSeq: 1024,
      dim: 1024,
      heads: 16,
      layers: 6,
      denseLayers: 1,
      denseHidden: 2816,
      moe: { ...defaultMoeConfig, expertHidden: 64, scoreFunc: "sigmoid", biasUpdateRate: 1e-3, auxLossWeight: 1e-3 },
    },
    vocab: 16384,
    corpus: { en: 2_000_000, zh: 600_000, code: 600_000 },
    batch: 8,
    seqLen: 256,
    steps: 600,
    lr: 1e-3,
  },
};
export type LmPresetName = keyof typeof lmPresets;

export interface LmCorpus {
  /** Pretraining text, the first 90% of each source. */
  train: DomainTokens[];
  /** The last 10% of each source: the held-out set perplexities are measured on. */
  valid: DomainTokens[];
  /** Chat presets: the instruction transcripts (train) and the held-out pairs' transcripts. */
  sft?: { train: DomainTokens; valid: DomainTokens };
  /** Held-out cross-entropy of a unigram model (nats/token): the baseline. */
  unigram: number;
}

/** What a corpus is made of: the base sizes and, for a chat model, what it adds. */
export type LmCorpusSpec = Pick<LmPreset, "corpus" | "chat">;

/**
 * The corpus as text, read once: each source cut into its training text and held-out tail at a
 * paragraph break (chat presets, so the instruction pairs can be kept out of the tail), or
 * whole (base presets: cut later as tokens, as the shipped base models were trained and are
 * evaluated); a chat preset's instruction transcripts, answers found in a tail not trained on.
 */
export interface CorpusText {
  sources: { train: string; valid: string | null }[];
  sft?: { train: string; valid: string };
}

export function corpusText(spec: LmCorpusSpec): CorpusText {
  const texts = mixedCorpus(spec.corpus);
  const whole = [texts.en, texts.zh, texts.code];
  if (!spec.chat) return { sources: whole.map((text) => ({ train: text, valid: null })) };
  if (spec.chat.docs) {
    whole.push(
      sectionsText(loadDebianReference()),
      sectionsText(loadDebianHandbook("en-US")),
      sectionsText(loadDebianHandbook("zh-CN")),
    );
  }
  const sources = whole.map(splitHeldOut);
  const pairs = instructionPairs(spec.chat.pairSeed, { heldOutTexts: sources.map((s) => s.valid) });
  const transcripts = (split: typeof pairs.train) => split.map((p) => chatTranscript(pairTurns(p))).join("\n");
  return { sources, sft: { train: transcripts(pairs.train), valid: transcripts(pairs.valid) } };
}

/** A source cut into its first 90% and the held-out rest, at a paragraph break near the cut. */
export function splitHeldOut(text: string): { train: string; valid: string } {
  const target = Math.floor(text.length * 0.9);
  const at = text.indexOf("\n\n", target);
  const cut = at < 0 || at - target > 5000 ? target : at;
  return { train: text.slice(0, cut), valid: text.slice(cut) };
}

/** Tokenize the corpus; the last 10% of each source is held out. No domain hints: the router learns. */
export function tokenizeCorpus(tokenizer: BpeTokenizer, spec: LmCorpusSpec, text: CorpusText = corpusText(spec)): LmCorpus {
  const train: DomainTokens[] = [];
  const valid: DomainTokens[] = [];
  const encode = (t: string, allowSpecial = false) => Int32Array.from(tokenizer.encode(t, { allowSpecial }));
  const stream = (tokens: Int32Array): DomainTokens => ({ tokens, domain: -1, weight: tokens.length });
  for (const source of text.sources) {
    let head: Int32Array;
    let tail: Int32Array;
    if (source.valid === null) {
      const ids = encode(source.train);
      const cut = Math.floor(ids.length * 0.9);
      head = ids.subarray(0, cut);
      tail = ids.subarray(cut);
    } else {
      head = encode(source.train);
      tail = encode(source.valid);
    }
    train.push(stream(head));
    valid.push(stream(tail));
  }
  const concat = (parts: DomainTokens[]) => Int32Array.from(parts.flatMap((p) => Array.from(p.tokens)));
  const unigram = unigramCrossEntropy(concat(train), concat(valid), tokenizer.vocabSize);
  if (!text.sft) return { train, valid, unigram };
  const sft = { train: stream(encode(text.sft.train, true)), valid: stream(encode(text.sft.valid, true)) };
  return { train, valid, sft, unigram };
}

/** The training streams with the instruction transcripts at their share of the windows. */
function mixStreams(corpus: LmCorpus, sftShare: number): DomainTokens[] {
  if (!corpus.sft || sftShare <= 0) return corpus.train;
  const total = corpus.train.reduce((a, s) => a + s.weight, 0);
  // weight w of the sft stream so that w / (total + w) = sftShare
  const weight = (total * sftShare) / (1 - sftShare);
  return [...corpus.train, { ...corpus.sft.train, weight }];
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
  /** Chat presets: held-out loss on the instruction transcripts. */
  sftEvalLoss?: number;
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
  const text = corpusText(preset);
  if (resuming) {
    ckpt = await loadCheckpoint(checkpointDir);
    tokenizer = (await loadMoeLm(options.out)).tokenizer;
    store = ckpt.store;
  } else {
    // A chat model's tokenizer sees only training text (the held-out tails and pairs are left
    // out); a base model's sees the whole corpus, as the shipped base models were made.
    const texts = [...text.sources.map((s) => s.train), ...(text.sft ? [text.sft.train] : [])];
    const specialTokens = preset.chat ? [...DEFAULT_SPECIAL_TOKENS, ...CHAT_ROLE_TOKENS] : undefined;
    tokenizer = trainBpe(texts, { vocabSize: preset.vocab, specialTokens, reservedImageTokens: preset.chat ? 0 : undefined });
  }
  const moe = options.balance ? preset.model.moe : { ...preset.model.moe, biasUpdateRate: 0, auxLossWeight: 0 };
  const cfg = MoeLmConfigSchema.parse({ ...preset.model, moe, vocab: tokenizer.vocabSize });
  const corpus = tokenizeCorpus(tokenizer, preset, text);
  const mixed = mixStreams(corpus, preset.chat?.sftShare ?? 0);
  const sftOnlyFrom = preset.chat && corpus.sft ? Math.floor(steps * preset.chat.sftOnlyFrom) : Number.POSITIVE_INFINITY;
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
      ...(preset.chat ? { chat: preset.chat } : {}),
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
    const streams = step >= sftOnlyFrom && corpus.sft ? [corpus.sft.train] : mixed;
    const r = await t.trainStep.run(t.batchAt(streams, options.seed, step, true), schedule(step));
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
  if (preset.chat) {
    // What other runtimes need to chat with it: the template and the sampling it is meant for.
    await writeModelFolder(
      options.out,
      {
        "tokenizer_config.json": jsonFile({ ...tokenizer.toHuggingFaceConfig(), chat_template: CHAT_TEMPLATE_JINJA }),
        "generation_config.json": generationConfigFile(preset.chat.generation),
      },
      { keep: "others" },
    );
  }
  const final = await t.evaluate(corpus.valid, options.seed + 1, 8);
  const sftEvalLoss = corpus.sft ? (await t.evaluate([corpus.sft.valid], options.seed + 1, 8)).loss : undefined;
  return { evalLoss: final.loss, sftEvalLoss, unigram: corpus.unigram, stats: final.stats };
}
