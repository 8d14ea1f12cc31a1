// Training recipe for the lip-sync model: windows of log-mel frames -> the viseme of the
// window's current frame, cross-entropy, AdamW with warmup + cosine decay, one ONNX
// Runtime call per step (TrainStep). The data comes in as plain arrays (frames and
// per-frame targets per utterance), so this file does not depend on how it was made.

import { z } from "zod";
import { Graph } from "../graph/index.js";
import { currentFrameIndex, exportLipSyncOnnx, LipSyncConfig, lipSyncInput, lipSyncLogits } from "../models/index.js";
import { Scope } from "../nn/index.js";
import { type HostTensor, ParamStore, Rng, TrainStep } from "../runtime/index.js";
import { crossEntropy } from "./losses.js";
import { cosineSchedule } from "./schedule.js";

export const LIPSYNC_PRESETS = ["tiny", "default"] as const;
export type LipSyncPresetName = (typeof LIPSYNC_PRESETS)[number];

export const LipSyncPreset = z
  .object({
    /** Utterances synthesised for training and for the held-out evaluation. */
    trainUtterances: z.number().int().positive(),
    heldOutUtterances: z.number().int().positive(),
    /** Share of Mandarin utterances. */
    mandarinShare: z.number().min(0).max(1),
    steps: z.number().int().positive(),
    batch: z.number().int().positive(),
    lr: z.number().positive(),
    warmup: z.number().int().min(0),
    weightDecay: z.number().min(0),
    /** Network shape without melBands/featureScale (those come from the features and the data). */
    model: z.object({
      context: z.number().int().positive(),
      lookahead: z.number().int().min(0),
      frameDim: z.number().int().positive(),
      hidden: z.number().int().positive(),
    }),
  })
  .strict();
export type LipSyncPreset = z.infer<typeof LipSyncPreset>;

export const LIPSYNC_PRESET_VALUES: Record<LipSyncPresetName, LipSyncPreset> = {
  // Seconds: enough to check the pipeline end to end.
  tiny: {
    trainUtterances: 120,
    heldOutUtterances: 24,
    mandarinShare: 0.35,
    steps: 300,
    batch: 128,
    lr: 3e-3,
    warmup: 30,
    weightDecay: 0.01,
    model: { context: 24, lookahead: 3, frameDim: 24, hidden: 96 },
  },
  // Minutes on 2 cores: the shipped model.
  default: {
    trainUtterances: 4000,
    heldOutUtterances: 150,
    mandarinShare: 0.35,
    steps: 6000,
    batch: 256,
    lr: 2e-3,
    warmup: 150,
    weightDecay: 0.01,
    model: { context: 32, lookahead: 3, frameDim: 32, hidden: 192 },
  },
};

/** One utterance's frames [T][M] and target viseme per frame [T]. */
export interface FrameSequence {
  features: readonly Float32Array[];
  targets: Int32Array;
}

export interface LipSyncTrainOptions {
  train: readonly FrameSequence[];
  preset: LipSyncPreset;
  melBands: number;
  /** Value of a silent frame (log of the feature floor): pads windows before and after an utterance. */
  silenceValue: number;
  visemes: number;
  seed: number;
  threads?: number;
  onProgress?: (p: { step: number; steps: number; loss: number }) => void;
}

export interface LipSyncTrainResult {
  config: LipSyncConfig;
  store: ParamStore;
  onnx: Uint8Array;
  /** Mean loss over the first and the last 10% of steps. */
  firstLoss: number;
  lastLoss: number;
  trainFrames: number;
  parameters: number;
}

/**
 * All windows in one buffer: each utterance padded with silence (C-1-L frames before, L
 * after), so the window of frame t is the contiguous run of C frames starting at t.
 */
function windowBank(seqs: readonly FrameSequence[], cfg: LipSyncConfig, silence: number) {
  const past = currentFrameIndex(cfg);
  const m = cfg.melBands;
  const paddedFrames = seqs.reduce((n, s) => n + s.features.length + cfg.context - 1, 0);
  const bank = new Float32Array(paddedFrames * m).fill(silence);
  const starts: number[] = [];
  const targets: number[] = [];
  let base = 0;
  for (const s of seqs) {
    s.features.forEach((f, t) => {
      bank.set(f, (base + past + t) * m);
      starts.push(base + t);
      targets.push(s.targets[t]);
    });
    base += s.features.length + cfg.context - 1;
  }
  return { bank, starts: Int32Array.from(starts), targets: Int32Array.from(targets) };
}

/** Scale of log-mel values around each frame's mean, from a sample of frames (keeps inputs near unit scale). */
function featureScaleOf(seqs: readonly FrameSequence[]): number {
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  for (const s of seqs)
    for (let t = 0; t < s.features.length; t += 7)
      for (const v of s.features[t]) {
        n++;
        sum += v;
        sumSq += v * v;
      }
  return Math.sqrt(Math.max(1e-6, sumSq / n - (sum / n) ** 2));
}

export async function trainLipSync(options: LipSyncTrainOptions): Promise<LipSyncTrainResult> {
  const p = LipSyncPreset.parse(options.preset);
  const config = LipSyncConfig.parse({
    ...p.model,
    melBands: options.melBands,
    visemes: options.visemes,
    featureScale: featureScaleOf(options.train),
  });
  const { bank, starts, targets } = windowBank(options.train, config, options.silenceValue);
  if (starts.length === 0) throw new Error("trainLipSync: no training frames");

  const g = new Graph();
  const mel = lipSyncInput(g, config, p.batch);
  const target = g.input("targets", "int64", [p.batch]);
  const loss = crossEntropy(lipSyncLogits(new Scope(g).child("lipsync"), config, mel), target);
  const store = ParamStore.fromGraph(g, options.seed);
  const trainStep = await TrainStep.create(loss, store, { threads: options.threads, optimizer: { weightDecay: p.weightDecay } });
  const schedule = cosineSchedule({ lr: p.lr, warmup: p.warmup, total: p.steps, minLr: p.lr / 20 });

  const rng = new Rng(options.seed + 1);
  const windowSize = config.context * config.melBands;
  const melData = new Float32Array(p.batch * windowSize); // [B, C, M]
  const targetData = new BigInt64Array(p.batch); // [B]
  const losses: number[] = [];
  for (let i = 0; i < p.steps; i++) {
    for (let b = 0; b < p.batch; b++) {
      const k = rng.int(starts.length);
      const from = starts[k] * config.melBands;
      melData.set(bank.subarray(from, from + windowSize), b * windowSize);
      targetData[b] = BigInt(targets[k]);
    }
    const batch: Record<string, HostTensor> = {
      mel: { dtype: "float32", shape: [p.batch, config.context, config.melBands], data: melData },
      targets: { dtype: "int64", shape: [p.batch], data: targetData },
    };
    const r = await trainStep.run(batch, schedule(i));
    losses.push(r.loss);
    options.onProgress?.({ step: i + 1, steps: p.steps, loss: r.loss });
  }
  const tenth = Math.max(1, Math.floor(p.steps / 10));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    config,
    store,
    onnx: exportLipSyncOnnx(config, (name) => store.get(name).data),
    firstLoss: mean(losses.slice(0, tenth)),
    lastLoss: mean(losses.slice(-tenth)),
    trainFrames: starts.length,
    parameters: store.count(),
  };
}
