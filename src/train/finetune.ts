// Fine-tuning a trained MoE LM on new text: all parameters ("full"), or LoRA updates only
// ("lora": every base parameter frozen, see src/nn/lora.ts). The base's routing is kept as it
// is: no Gumbel noise and no router-bias updates, so the adapted model routes as the base did
// except where training changed the router's own weights (full fine-tuning).
//
// Held-out loss is measured with the inference engine (no capacity drops) on evenly spaced
// windows of the held-out text; a LoRA model is scored merged (W + (α/r) Aᵀ Bᵀ), which gives
// the same logits as base + adapter (test/lm/loraAdapter.test.ts).

import { type MoeLmConfig, type MoeLmFiles, MoeLmModel, mergeLora } from "../models/index.js";
import type { LoraConfig } from "../nn/index.js";
import { ParamStore } from "../runtime/index.js";
import { type DomainTokens, heldOutWindows, setupMoeLmTraining } from "./moeLm.js";
import { cosineSchedule } from "./schedule.js";

export const FINETUNE_METHODS = ["lora", "full"] as const;
export type FinetuneMethod = (typeof FINETUNE_METHODS)[number];

export interface FinetuneOptions {
  /** The base model. */
  files: MoeLmFiles;
  train: DomainTokens[];
  valid: DomainTokens[];
  method: FinetuneMethod;
  /** LoRA's rank, scale, dropout and target modules (method "lora"). */
  lora?: LoraConfig;
  steps: number;
  lr: number;
  batch: number;
  seqLen: number;
  seed: number;
  threads?: number;
  /** Held-out windows scored before and after (default 16, of min(seqLen, 128) tokens). */
  evalWindows?: number;
  /** The loss counts only the positions the streams' lossMask marks (chat and completion records). */
  maskedLoss?: boolean;
  onStep?: (step: number, loss: number) => void;
}

export interface FinetuneResult {
  /** "full": every parameter; "lora": the updates only (lora_A / lora_B, our names). */
  store: ParamStore;
  /** The model to serve: the full store, or the base with the updates merged in. */
  merged: ParamStore;
  trainableParams: number;
  totalParams: number;
  /** Held-out mean cross-entropy (nats/token) of the base and of the fine-tuned model. */
  baseLoss: number;
  loss: number;
  /** Largest resident set size seen while training (bytes). */
  peakRssBytes: number;
  seconds: number;
}

/** Mean next-token cross-entropy of `windows` under the inference engine. */
export async function heldOutLoss(cfg: MoeLmConfig, store: ParamStore, windows: number[][], threads?: number): Promise<number> {
  const tokenizer = { encode: () => [], decode: (ids: readonly number[]) => ids.join(" ") };
  const model = await MoeLmModel.create(cfg, store, tokenizer, { threads });
  let sum = 0;
  for (const w of windows) sum += await model.crossEntropy([w]);
  return sum / windows.length;
}

export async function finetuneMoeLm(o: FinetuneOptions): Promise<FinetuneResult> {
  if (o.method === "lora" && !o.lora) throw new Error("finetune: method lora needs a LoRA config");
  // The base's routing stays: no exploration noise, no bias updates.
  const cfg: MoeLmConfig = { ...o.files.config.model, moe: { ...o.files.config.model.moe, gumbelTau: 0, biasUpdateRate: 0 } };
  const windows = heldOutWindows(o.valid, o.evalWindows ?? 16, Math.min(cfg.maxSeq, o.seqLen, 128));
  const baseLoss = await heldOutLoss(cfg, o.files.store, windows, o.threads);

  // A shallow copy: training replaces entries (never writes into the base's arrays).
  const store = new ParamStore();
  for (const [name, v] of o.files.store.values) store.set(name, v.shape, v.data);
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
    lora: o.method === "lora" ? o.lora : undefined,
    trainStep: { threads: o.threads },
  });
  const schedule = cosineSchedule({ lr: o.lr, warmup: Math.max(1, Math.min(20, Math.floor(o.steps / 10))), total: o.steps });
  let peakRssBytes = process.memoryUsage().rss;
  for (let step = 0; step < o.steps; step++) {
    const r = await training.trainStep.run(training.batchAt(o.train, o.seed, step, true), schedule(step));
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
    o.onStep?.(step + 1, r.loss);
  }
  const seconds = (performance.now() - t0) / 1000;

  const trainable = new Set(training.trainStep.paramNames);
  const result = new ParamStore();
  for (const name of trainable) {
    const v = store.get(name);
    result.set(name, v.shape, v.data);
  }
  let merged: ParamStore;
  if (o.method === "lora" && o.lora) {
    merged = mergeLora(o.files.store, result, o.lora);
  } else {
    merged = store;
  }
  const loss = await heldOutLoss(cfg, merged, windows, o.threads);
  const count = (s: ParamStore, names: Iterable<string>) => [...names].reduce((n, name) => n + s.get(name).data.length, 0);
  return {
    store: o.method === "full" ? store : result,
    merged,
    trainableParams: count(store, trainable),
    totalParams: o.files.store.count(),
    baseLoss,
    loss,
    peakRssBytes,
    seconds,
  };
}
