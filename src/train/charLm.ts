// Character-level GPT on a text: everything a run needs, from text to a TrainStep,
// an evaluator on held-out text, and the inference export.

import { CharTokenizer, lmBatch, splitTokens, unigramCrossEntropy } from "../data/index.js";
import { Graph, type OnnxModel, toOnnx } from "../graph/index.js";
import { type GptConfig, gptLogits } from "../models/index.js";
import { Evaluator, type HostTensor, ParamStore, TrainStep, type TrainStepOptions } from "../runtime/index.js";
import { gptTrainGraph } from "./lm.js";

export interface CharLmSetup {
  tokenizer: CharTokenizer;
  cfg: GptConfig;
  train: Int32Array;
  valid: Int32Array;
  unigram: number;
  store: ParamStore;
  trainStep: TrainStep;
  /** Mean held-out loss over `batches` fixed batches. */
  evaluate: (batches?: number) => Promise<number>;
  batchAt: (step: number) => Record<string, HostTensor>;
}

export interface CharLmOptions {
  model: Omit<GptConfig, "vocab">;
  batch: number;
  seed: number;
  /** Parameters to start from (a resumed run); a fresh seeded init otherwise. */
  store?: ParamStore;
  trainStep?: TrainStepOptions;
}

export async function setupCharLm(text: string, options: CharLmOptions): Promise<CharLmSetup> {
  const tokenizer = CharTokenizer.fromText(text);
  const cfg: GptConfig = { ...options.model, vocab: tokenizer.vocabSize };
  const { train, valid } = splitTokens(tokenizer.encode(text));
  const g = new Graph();
  const { loss } = gptTrainGraph(g, cfg, options.batch);
  const store = (options.store ?? new ParamStore()).initMissing(g, options.seed);
  const trainStep = await TrainStep.create(loss, store, options.trainStep);
  const evaluator = await Evaluator.create({ loss }, store, options.trainStep?.threads);
  const t = cfg.blockSize;
  return {
    tokenizer,
    cfg,
    train,
    valid,
    unigram: unigramCrossEntropy(train, valid, cfg.vocab),
    store,
    trainStep,
    batchAt: (step) => ({ ...lmBatch(train, options.batch, t, options.seed, step) }),
    evaluate: async (batches = 8) => {
      let sum = 0;
      for (let i = 0; i < batches; i++) {
        const out = await evaluator.run({ ...lmBatch(valid, options.batch, t, options.seed + 1, i) });
        sum += out.loss.data[0] as number;
      }
      return sum / batches;
    },
  };
}

/** The inference graph: ids [B, T] (both symbolic) -> logits [B, T, V], weights embedded. */
export function exportGptInference(cfg: GptConfig, store: ParamStore): OnnxModel {
  const g = new Graph();
  const ids = g.input("ids", "int64", ["B", "T"]);
  const logits = gptLogits(g, cfg, ids);
  return toOnnx({ outputs: { logits }, paramValue: (name) => store.get(name).data, name: "gpt" });
}
