// Losses as graph functions.

import { type DType, type Graph, op, type Tensor } from "../graph/index.js";

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

/**
 * Mean cross-entropy over the positions whose weight is 1 (weights [..] like targets, 0 or 1):
 * e.g. only an assistant's tokens of a chat transcript. A batch with no counted position
 * gives 0 (the sum of weights is floored at 1).
 */
export function maskedCrossEntropy(logits: Tensor, targets: Tensor, weights: Tensor): Tensor {
  const v = logits.shape[logits.rank - 1];
  const logp = op.logSoftmax(op.reshape(logits, [-1, v]), -1);
  const picked = op.reshape(op.gatherElements(logp, op.reshape(targets, [-1, 1]), 1), [-1]); // [N]
  const w = op.reshape(weights, [-1]);
  const count = op.reduceSum(w);
  return op.neg(op.div(op.reduceSum(op.mul(picked, w)), op.where(op.greater(count, 0.5), count, 1)));
}

/**
 * Cross-entropy against a set of acceptable classes, per row: -log of the probability of
 * the acceptable classes S among the classes the label speaks about K (S ⊆ K; all classes if
 * no `consideredBias`): -log Σ_{c∈S} e^{z_c} / Σ_{c∈K} e^{z_c}. For labels that only say "one
 * of these, rather than those" (a review's polarity: happy rather than sad / angry, with
 * nothing said about neutral). Biases [N, C] are 0 on the classes in the set and a large
 * negative number elsewhere; `anyAllowed` [N] names one class of S per row. Computed exactly
 * and stably as logSoftmax(z + biasS)[j] - logSoftmax(z + biasK)[j] (the two log-sum-exps up
 * to z_j); with S one class and K all, the ordinary cross-entropy. Returns [N].
 */
export function setCrossEntropy(logits: Tensor, allowedBias: Tensor, anyAllowed: Tensor, consideredBias?: Tensor): Tensor {
  const j = op.reshape(anyAllowed, [-1, 1]); // [N, 1]
  const restricted = op.gatherElements(op.logSoftmax(op.add(logits, allowedBias), -1), j, 1); // [N, 1]
  const considered = consideredBias ? op.add(logits, consideredBias) : logits;
  const full = op.gatherElements(op.logSoftmax(considered, -1), j, 1); // [N, 1]
  return op.reshape(op.sub(restricted, full), [-1]);
}

/**
 * Binary cross-entropy with logits, softplus(z) - y z (stable for large |z|), summed over
 * the L labels and averaged over the batch: [B, L] -> [].
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor): Tensor {
  const absZ = op.add(op.relu(logits), op.relu(op.neg(logits)));
  const softplus = op.add(op.relu(logits), op.log(op.add(op.exp(op.neg(absZ)), 1)));
  return op.reduceMean(op.reduceSum(op.sub(softplus, op.mul(targets, logits)), 1));
}

export interface InfoNceOptions {
  /** Fixed temperature τ (logits are similarities / τ); default 0.1. Ignored when `logitScale` is given. */
  temperature?: number;
  /**
   * Learnable log(1/τ) (a scalar parameter, e.g. the aligner's `logit_scale`). Used clamped to
   * [0, ln maxLogitScale] as OpenCLIP clamps `logit_scale`; outside that range it gets no gradient.
   */
  logitScale?: Tensor;
  /** Upper bound on 1/τ for a learnable scale; default 100 (OpenCLIP's). */
  maxLogitScale?: number;
}

/** The multiplier 1/τ the InfoNCE logits use: a constant, or exp(clamped logit scale). */
export function inverseTemperature(graph: Graph, options: InfoNceOptions, dtype: DType): Tensor {
  if (!options.logitScale) return op.scalar(graph, 1 / (options.temperature ?? 0.1), dtype);
  const high = Math.log(options.maxLogitScale ?? 100);
  const low = op.where(op.less(options.logitScale, 0), 0, options.logitScale);
  return op.exp(op.where(op.greater(low, high), high, low));
}

/**
 * Symmetric InfoNCE (CLIP's loss) over a batch of matched pairs: row i of `image` [B, E]
 * goes with row i of `text` [B, E]. logits = image @ textᵀ / τ [B, B]; the loss is the mean of
 * the image→text cross-entropy (rows) and the text→image one (columns), targets the diagonal.
 * Embeddings are used as given (normalise them first for cosine similarity).
 */
export function infoNceLoss(image: Tensor, text: Tensor, options: InfoNceOptions = {}): Tensor {
  const [b] = image.shape;
  if (image.rank !== 2 || text.rank !== 2 || typeof b !== "number" || text.shape[0] !== b || text.shape[1] !== image.shape[1])
    throw new Error(`infoNceLoss: expected image and text [B, E] of one static shape, got ${image} and ${text}`);
  const logits = op.mul(op.matmul(image, op.transposeLast(text)), inverseTemperature(image.graph, options, image.dtype)); // [B, B]
  const diagonal = op.arange(image.graph, b); // [B]: pair i's partner is i
  const imageToText = crossEntropy(logits, diagonal);
  const textToImage = crossEntropy(op.transposeLast(logits), diagonal);
  return op.mul(op.add(imageToText, textToImage), 0.5);
}
