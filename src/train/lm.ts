// Training graphs for language models: next-token cross-entropy on [B, T] batches.

import type { Graph } from "../graph/index.js";
import { type GptConfig, gptLogits } from "../models/index.js";
import { crossEntropy } from "./losses.js";

/** Inputs `ids` and `targets` [B, T] (int64); outputs loss and logits [B, T, V]. */
export function gptTrainGraph(graph: Graph, cfg: GptConfig, batch: number, length = cfg.blockSize) {
  if (length > cfg.blockSize) throw new Error(`sequence length ${length} exceeds the model's blockSize ${cfg.blockSize}`);
  const ids = graph.input("ids", "int64", [batch, length]);
  const targets = graph.input("targets", "int64", [batch, length]);
  const logits = gptLogits(graph, cfg, ids);
  return { ids, targets, logits, loss: crossEntropy(logits, targets) };
}
