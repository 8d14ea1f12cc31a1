// Losses as graph functions.

import { op, type Tensor } from "../graph/index.js";

/**
 * Mean cross-entropy of logits [..., V] against int64 targets [...].
 * Computed as -mean(logSoftmax(logits)[target]) so the backward is one softmax.
 */
export function crossEntropy(logits: Tensor, targets: Tensor): Tensor {
  const v = logits.shape[logits.rank - 1];
  const flat = op.reshape(logits, [-1, v]); // [N, V]
  const logp = op.logSoftmax(flat, -1);
  const picked = op.gatherElements(logp, op.reshape(targets, [-1, 1]), 1); // [N, 1]
  return op.neg(op.reduceMean(picked));
}
