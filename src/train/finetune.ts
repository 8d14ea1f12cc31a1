// Fine-tuning a trained MoE LM on new text: all parameters ("full"), LoRA updates only
// ("lora": every base parameter frozen, see src/nn/lora.ts), or QLoRA ("qlora": LoRA over a
// base whose weight matrices are fed to the step as 4-bit NormalFloat, see ./qlora.ts). The base's routing is kept as it
// is: no Gumbel noise and no router-bias updates, so the adapted model routes as the base did
// except where training changed the router's own weights (full fine-tuning).
//
// Held-out loss is measured with the inference engine (no capacity drops) on evenly spaced
// windows of the held-out text; a LoRA model is scored merged (W + (α/r) Aᵀ Bᵀ), which gives
// the same logits as base + adapter (test/lm/loraAdapter.test.ts).

import { existsSync } from "node:fs";
import { join } from "node:path";
import { type MoeLmConfig, type MoeLmFiles, MoeLmModel, mergeLora } from "../models/index.js";
import type { LoraConfig, QuantizedBase } from "../nn/index.js";
import { loadCheckpoint, ParamStore, saveCheckpoint } from "../runtime/index.js";
import { type DomainTokens, heldOutMasks, heldOutWindows, setupMoeLmTraining } from "./moeLm.js";
import { defaultQuantizedBase } from "./qlora.js";
import { cosineSchedule } from "./schedule.js";

export const FINETUNE_METHODS = ["lora", "qlora", "full"] as const;
export type FinetuneMethod = (typeof FINETUNE_METHODS)[number];

export interface FinetuneOptions {
  /** The base model. */
  files: MoeLmFiles;
  train: DomainTokens[];
  valid: DomainTokens[];
  method: FinetuneMethod;
  /** LoRA's rank, scale, dropout and target modules (methods "lora" and "qlora"). */
  lora?: LoraConfig;
  /** QLoRA's base storage (default: NF4 blocks of 64, double-quantized scales). */
  quantizedBase?: QuantizedBase;
  /**
   * QLoRA: drop the float32 weight matrices from `files.store` once quantized, as a 4-bit load
   * keeps no float32 copy (`files.store` is incomplete afterwards; the result's `merged` is whole).
   */
  consumeBase?: boolean;
  steps: number;
  lr: number;
  batch: number;
  seqLen: number;
  seed: number;
  threads?: number;
  /** Held-out windows scored before and after (default 16, of min(seqLen, 128) tokens; 0: no scoring, losses NaN). */
  evalWindows?: number;
  /** The loss counts only the positions the streams' lossMask marks (chat and completion records). */
  maskedLoss?: boolean;
  onStep?: (step: number, loss: number) => void;
  /**
   * Save the trained parameters, AdamW's moments and the step here every `checkpointEvery`
   * steps (default 50) and at the end; with `resume`, continue from what it holds. Batches
   * depend only on (seed, step), so a resumed run ends where an uninterrupted one would.
   */
  checkpoint?: { dir: string; every?: number; resume?: boolean };
  /** Stop after this many steps in all (a run to resume later; the schedule still spans `steps`). */
  stopAt?: number;
}

export interface FinetuneResult {
  /** "full": every parameter; "lora", "qlora": the updates only (lora_A / lora_B, our names). */
  store: ParamStore;
  /** The model to serve: the full store, or the base with the updates merged in. */
  merged: ParamStore;
  trainableParams: number;
  totalParams: number;
  /** Held-out mean cross-entropy (nats/token) of the base and of the fine-tuned model. */
  baseLoss: number;
  loss: number;
  /** Bits stored per base parameter while training (32: float32; QLoRA: NF4 and its scales). */
  bitsPerBaseParam: number;
  /** The process's peak resident set size up to the end of training (bytes; the kernel's maxRSS). */
  peakRssBytes: number;
  seconds: number;
}

/**
 * Mean next-token cross-entropy of `windows` under the inference engine; with `masks` (per
 * window, the weight of predicting each next token: heldOutMasks) the weighted mean.
 */
export async function heldOutLoss(
  cfg: MoeLmConfig,
  store: ParamStore,
  windows: number[][],
  threads?: number,
  masks?: number[][] | null,
): Promise<number> {
  const tokenizer = { encode: () => [], decode: (ids: readonly number[]) => ids.join(" ") };
  const model = await MoeLmModel.create(cfg, store, tokenizer, { threads });
  let nll = 0;
  let weight = 0;
  for (const [w, window] of windows.entries()) {
    const logits = await model.allLogits([window]);
    for (let i = 0; i + 1 < window.length; i++) {
      const m = masks ? masks[w][i] : 1;
      if (m === 0) continue;
      const row = logits.subarray(i * cfg.vocab, (i + 1) * cfg.vocab);
      let max = Number.NEGATIVE_INFINITY;
      for (const x of row) max = Math.max(max, x);
      let z = 0;
      for (const x of row) z += Math.exp(x - max);
      nll += m * (max + Math.log(z) - row[window[i + 1]]);
      weight += m;
    }
  }
  if (weight === 0) throw new Error("heldOutLoss: the held-out windows hold no scored positions (every mask weight is 0)");
  return nll / weight;
}

export async function finetuneMoeLm(o: FinetuneOptions): Promise<FinetuneResult> {
  if (o.method !== "full" && !o.lora) throw new Error(`finetune: method ${o.method} needs a LoRA config`);
  // The base's routing stays: no exploration noise, no bias updates.
  const cfg: MoeLmConfig = { ...o.files.config.model, moe: { ...o.files.config.model.moe, gumbelTau: 0, biasUpdateRate: 0 } };
  const evalWindows = o.evalWindows ?? 16;
  const windowLength = Math.min(cfg.maxSeq, o.seqLen, 128);
  const windows = evalWindows > 0 ? heldOutWindows(o.valid, evalWindows, windowLength) : [];
  // Chat and completion records: scored on the answers, as they are trained.
  const masks = evalWindows > 0 && o.maskedLoss ? heldOutMasks(o.valid, evalWindows, windowLength) : null;
  const score = (store: ParamStore) => (windows.length > 0 ? heldOutLoss(cfg, store, windows, o.threads, masks) : Number.NaN);
  const baseLoss = await score(o.files.store);

  // A shallow copy: training replaces entries (never writes into the base's arrays).
  const store = new ParamStore();
  for (const [name, v] of o.files.store.values) store.set(name, v.shape, v.data);
  const totalParams = o.files.store.count();
  const t0 = performance.now();
  const training = await setupMoeLmTraining({
    cfg,
    batch: o.batch,
    seqLen: o.seqLen,
    seed: o.seed,
    store,
    domainHints: false,
    gumbelAnnealSteps: 0,
    maskedLoss: o.maskedLoss,
    lora: o.method === "full" ? undefined : o.lora,
    quantizedBase: o.method === "qlora" ? (o.quantizedBase ?? defaultQuantizedBase) : undefined,
    trainStep: { threads: o.threads },
  });
  if (o.consumeBase) for (const name of training.quantizedBase?.quantized ?? []) o.files.store.values.delete(name);
  const schedule = cosineSchedule({ lr: o.lr, warmup: Math.max(1, Math.min(20, Math.floor(o.steps / 10))), total: o.steps });
  const { trainStep } = training;
  // What a checkpoint must match to be resumed: the run's own settings.
  const runConfig = {
    method: o.method,
    lora: o.lora ?? null,
    steps: o.steps,
    lr: o.lr,
    batch: o.batch,
    seqLen: o.seqLen,
    seed: o.seed,
  };
  const ckpt = o.checkpoint;
  if (ckpt?.resume && existsSync(join(ckpt.dir, "model.safetensors"))) {
    const saved = await loadCheckpoint(ckpt.dir);
    if (JSON.stringify(saved.config) !== JSON.stringify(runConfig))
      throw new Error(
        `${ckpt.dir} holds a run with other settings (${JSON.stringify(saved.config)}); resume with the same ones, or remove it`,
      );
    for (const name of trainStep.paramNames) {
      const v = saved.store.values.get(name);
      if (!v) throw new Error(`${ckpt.dir}: the checkpoint has no parameter ${name}`);
      store.set(name, v.shape, v.data);
    }
    trainStep.restore(saved.moments ?? new Map(), saved.step);
  }
  const save = async () => {
    if (!ckpt) return;
    const trained = new ParamStore();
    for (const name of trainStep.paramNames) trained.values.set(name, store.get(name));
    await saveCheckpoint(ckpt.dir, { store: trained, trainStep, config: runConfig });
  };
  const last = Math.min(o.steps, o.stopAt ?? o.steps);
  for (let step = trainStep.stepCount; step < last; step++) {
    const r = await trainStep.run(training.batchAt(o.train, o.seed, step, true), schedule(step));
    o.onStep?.(step + 1, r.loss);
    if ((step + 1) % (ckpt?.every ?? 50) === 0) await save();
  }
  await save();
  const seconds = (performance.now() - t0) / 1000;
  // The kernel's high-water mark (inside steps too, not only between them): the process's peak so far.
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;

  const trainable = new Set(training.trainStep.paramNames);
  const result = new ParamStore();
  for (const name of trainable) {
    const v = store.get(name);
    result.set(name, v.shape, v.data);
  }
  // QLoRA's adapter was trained against the dequantized base: merge into that.
  const base = training.quantizedBase?.dequantize() ?? o.files.store;
  const merged = o.method === "full" ? store : mergeLora(base, result, o.lora!);
  const loss = await score(merged);
  const count = (s: ParamStore, names: Iterable<string>) => [...names].reduce((n, name) => n + s.get(name).data.length, 0);
  return {
    store: o.method === "full" ? store : result,
    merged,
    trainableParams: count(store, trainable),
    totalParams,
    baseLoss,
    loss,
    bitsPerBaseParam: training.quantizedBase?.bitsPerParam ?? 32,
    peakRssBytes,
    seconds,
  };
}
