// Training graphs for language models: next-token cross-entropy on [B, T] batches.

import type { Graph } from "../graph/index.js";
import { type GptConfig, gptLogits } from "../models/index.js";
import { crossEntropy } from "./losses.js";

/** Inputs `ids` and `targets` [B, T] (int64); outputs loss and logits [B, T, V]. */
export function gptTrainGraph(g: Graph, cfg: GptConfig, batch: number, t = cfg.blockSize) {
  if (t > cfg.blockSize) throw new Error(`sequence length ${t} exceeds the model's blockSize ${cfg.blockSize}`);
  const ids = g.input("ids", "int64", [batch, t]);
  const targets = g.input("targets", "int64", [batch, t]);
  const logits = gptLogits(g, cfg, ids);
  return { ids, targets, logits, loss: crossEntropy(logits, targets) };
}
