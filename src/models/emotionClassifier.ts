// The digital human's emotion classifier, fastText-style with a little context:
// hashed token features (word, bigram, char n-grams; Han characters and their bigrams)
// -> per-token mean of feature embeddings -> negation transform on negated tokens ->
// per-token MLP -> contrast-segment gate -> attention pooling + mean pooling -> MLP ->
// 5-way emotion logits and a sigmoid intensity.
//
// Dims: B batch, T tokens, F feature slots per token, H hash buckets, D embedding width,
// K token width, M head width, C = 5 emotions, S = 3 contrast segments.

import { z } from "zod";
import { type Graph, op, type Tensor } from "../graph/index.js";
import { linear, type Scope } from "../nn/index.js";
import type { HostTensor } from "../runtime/index.js";

export const EmotionClassifierConfig = z
  .object({
    /** Hash buckets H (embedding rows); bucket 0 is padding. */
    buckets: z.number().int().min(2),
    /** Tokens per text T. */
    maxTokens: z.number().int().positive(),
    /** Feature slots per token F. */
    featuresPerToken: z.number().int().positive(),
    /** Embedding width D. */
    dim: z.number().int().positive(),
    /** Per-token hidden width K. */
    tokenDim: z.number().int().positive(),
    /** Head hidden width M. */
    hidden: z.number().int().positive(),
    /** Number of emotions C. */
    classes: z.number().int().min(2),
    /** Contrast segments S (none, before "but", after "but"). */
    segments: z.number().int().positive(),
  })
  .strict();
export type EmotionClassifierConfig = z.infer<typeof EmotionClassifierConfig>;

export interface EmotionInputs {
  /** int64 [B, T, F] hashed feature ids, 0 = empty. */
  ids: Tensor;
  /** float32 [B, T], 1 where negated. */
  negated: Tensor;
  /** int64 [B, T] contrast segment. */
  segment: Tensor;
  /** float32 [B, T], 1 for real tokens. */
  mask: Tensor;
}

/** Graph inputs of a classifier with batch dimension `batch` (a number or a symbol). */
export function emotionInputs(graph: Graph, cfg: EmotionClassifierConfig, batch: number | string): EmotionInputs {
  const { maxTokens: T, featuresPerToken: F } = cfg;
  return {
    ids: graph.input("ids", "int64", [batch, T, F]),
    negated: graph.input("negated", "float32", [batch, T]),
    segment: graph.input("segment", "int64", [batch, T]),
    mask: graph.input("mask", "float32", [batch, T]),
  };
}

/** Host-side values of the inputs for n texts (what a featuriser produces). */
export interface EmotionFeatures {
  /** int64 [n, T, F]. */
  ids: BigInt64Array;
  /** float32 [n, T]. */
  negated: Float32Array;
  /** int64 [n, T]. */
  segment: BigInt64Array;
  /** float32 [n, T]. */
  mask: Float32Array;
}

/** Feeds for a batch of `count` featurised texts (shared by training and inference). */
export const emotionFeeds = (
  features: EmotionFeatures,
  count: number,
  cfg: EmotionClassifierConfig,
): Record<string, HostTensor> => ({
  ids: { dtype: "int64", shape: [count, cfg.maxTokens, cfg.featuresPerToken], data: features.ids },
  negated: { dtype: "float32", shape: [count, cfg.maxTokens], data: features.negated },
  segment: { dtype: "int64", shape: [count, cfg.maxTokens], data: features.segment },
  mask: { dtype: "float32", shape: [count, cfg.maxTokens], data: features.mask },
});

export interface EmotionOutputs {
  /** [B, C] emotion logits. */
  logits: Tensor;
  /** [B] intensity logit (sigmoid gives the intensity). */
  intensityLogit: Tensor;
}

/** Feature ids -> token vectors [B, T, D]: mean of the non-empty slots' embeddings. */
function tokenEmbeddings(s: Scope, cfg: EmotionClassifierConfig, ids: Tensor): Tensor {
  const table = s.param("weight", [cfg.buckets, cfg.dim], { kind: "normal", std: 0.1 });
  const slotMask = op.sub(1, op.cast(op.equal(ids, op.scalar(ids.graph, 0, "int64")), "float32")); // [B, T, F]
  const vectors = op.mul(op.gather(table, ids, 0), op.unsqueeze(slotMask, -1)); // [B, T, F, D]
  const count = op.add(op.reduceSum(slotMask, -1, true), 1e-6); // [B, T, 1]
  return op.div(op.reduceSum(vectors, 2), count); // [B, T, D]
}

export function emotionClassifier(scope: Scope, cfg: EmotionClassifierConfig, inputs: EmotionInputs): EmotionOutputs {
  const tokens = tokenEmbeddings(scope.child("embeddings"), cfg, inputs.ids); // [B, T, D]
  // Negation: negated tokens get a learned linear map added (it learns to flip polarity).
  const negMap = scope.child("negation").param("weight", [cfg.dim, cfg.dim], { kind: "normal", std: 0.02 });
  const negated = op.unsqueeze(inputs.negated, -1); // [B, T, 1]
  const h = op.add(tokens, op.mul(negated, op.matmul(tokens, negMap))); // [B, T, D]
  const u = op.tanh(linear(scope.child("token_mlp"), h, cfg.tokenDim, { bias: true, std: 0.1 })); // [B, T, K]
  // Contrast: a learned gate per segment scales each token ("but" clauses weigh more).
  const segTable = scope.child("segment_gate").param("weight", [cfg.segments, cfg.tokenDim], { kind: "constant", value: 2 });
  const gated = op.mul(u, op.sigmoid(op.gather(segTable, inputs.segment, 0))); // [B, T, K]
  const segBias = scope.child("segment_bias").param("weight", [cfg.segments, 1], { kind: "constant", value: 0 });
  // Attention pooling: score each token, padding masked out.
  const keep = op.unsqueeze(inputs.mask, -1); // [B, T, 1]
  const scores = op.add(
    op.add(linear(scope.child("attention"), gated, 1, { std: 0.1 }), op.gather(segBias, inputs.segment, 0)),
    op.mul(op.sub(keep, 1), 1e9),
  ); // [B, T, 1]
  const att = op.softmax(scores, 1); // [B, T, 1]
  const attPooled = op.reduceSum(op.mul(att, gated), 1); // [B, K]
  const meanPooled = op.div(op.reduceSum(op.mul(gated, keep), 1), op.add(op.reduceSum(keep, 1), 1e-6)); // [B, K]
  const pooled = op.concat([attPooled, meanPooled], -1); // [B, 2K]
  const head = scope.child("head");
  const z = op.relu(linear(head.child("fc"), pooled, cfg.hidden, { bias: true, std: 0.1 })); // [B, M]
  const logits = linear(head.child("emotion"), z, cfg.classes, { bias: true, std: 0.05 }); // [B, C]
  const intensityLogit = op.reshape(linear(head.child("intensity"), z, 1, { bias: true, std: 0.05 }), [-1]); // [B]
  return { logits, intensityLogit };
}
