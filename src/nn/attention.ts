// The one multi-head attention every model uses: scores = q·kᵀ / sqrt(D) (+ causal mask,
// + additive mask) -> softmax -> ·v, between input projections and an output projection.
// Two projection layouts: one fused `qkv` linear (GPT-2, CLIP) or separate
// q_proj / k_proj / v_proj / o_proj (Llama, DeepSeek). Composed from primitives it has a
// gradient; with a KV cache (inference) it is one fused ONNX Runtime MultiHeadAttention node.
//
// Dims: B batch, T new tokens, P cached tokens, C width, H heads, D = C / H head size.

import { type Dim, op, type Tensor } from "../graph/index.js";
import { linear } from "./layers.js";
import type { Scope } from "./scope.js";

/** Upper-triangular additive mask [T, T]: 0 where j <= i, -1e9 where j > i. */
export function causalMask(x: Tensor, maxT: number, length: Dim): Tensor {
  const data = new Float32Array(maxT * maxT);
  for (let i = 0; i < maxT; i++) for (let j = i + 1; j < maxT; j++) data[i * maxT + j] = -1e9;
  const full = op.constant(x.graph, x.dtype === "float64" ? Float64Array.from(data) : data, [maxT, maxT]);
  return op.slice(op.slice(full, 0, 0, length), 1, 0, length);
}

/** Additive key mask [B, 1, 1, T] from `keep` [B, T] (1 = attend, 0 = padding): 0 or -1e9. */
export function keyPaddingMask(keep: Tensor): Tensor {
  const [b, t] = keep.shape;
  return op.reshape(op.mul(op.sub(1, keep), -1e9), [b, 1, 1, t]);
}

/**
 * The KV cache of one block, batch-major [B, H, P, D] as ONNX Runtime's attention reads it:
 * the host keeps spare columns (hidden by the mask) and writes new positions into them in place.
 */
export interface KvCache {
  pastK: Tensor; // [B, H, P, D]
  pastV: Tensor; // [B, H, P, D]
  /** Additive mask [B, 1, T, P+T]: 0 where a query may look, -1e9 elsewhere. */
  mask: Tensor;
}

export interface AttentionOptions {
  heads: number;
  /**
   * "fused": one linear `qkv` [C, 3C], output projection `outName`; "separate": `q_proj`,
   * `k_proj`, `v_proj` and `o_proj`.
   */
  projections: "fused" | "separate";
  /** Output projection of the fused layout: "proj" (GPT-2) or "out_proj" (CLIP). */
  outName?: string;
  /** Biases on the projections. */
  bias?: boolean;
  /** Std of the output projection (GPT-2 scales it by 1/sqrt(2 * layers)). */
  outStd?: number;
  /** Causal: the largest sequence length (size of the causal mask). Omitted: bidirectional. */
  causalMaxT?: number;
  /** Additive mask added to the scores, e.g. keyPaddingMask [B, 1, 1, T]. */
  mask?: Tensor;
  /** Rotates queries and keys [B, T, C] by their positions (RoPE). */
  rotate?: (x: Tensor) => Tensor;
  /** Inference with a KV cache: the fused MultiHeadAttention node (no gradient). */
  cache?: KvCache;
}

export interface AttentionOutputs {
  out: Tensor; // [B, T, C]
  /** This call's keys and values: [B, H, T, D], or [B, T, H, D] with a cache (the new positions). */
  k: Tensor;
  v: Tensor;
}

/** Multi-head attention over x [B, T, C] -> [B, T, C], parameters under `scope`. */
export function attention(scope: Scope, x: Tensor, options: AttentionOptions): AttentionOutputs {
  const [b, t, c] = x.shape;
  if (typeof c !== "number" || c % options.heads !== 0)
    throw new Error(`attention ${scope.prefix}: width ${c} must divide into ${options.heads} heads`);
  const h = options.heads;
  const d = c / h;
  const bias = options.bias ?? false;
  let q: Tensor;
  let k: Tensor;
  let v: Tensor;
  if (options.projections === "fused") {
    [q, k, v] = op.split(linear(scope.child("qkv"), x, 3 * c, { bias }), -1, [c, c, c]); // [B, T, 3C] -> 3 x [B, T, C]
  } else {
    q = linear(scope.child("q_proj"), x, c, { bias });
    k = linear(scope.child("k_proj"), x, c, { bias });
    v = linear(scope.child("v_proj"), x, c, { bias });
  }
  if (options.rotate) {
    q = options.rotate(q);
    k = options.rotate(k);
  }
  const outName = options.projections === "fused" ? (options.outName ?? "proj") : "o_proj";
  const project = (y: Tensor) => linear(scope.child(outName), y, c, { std: options.outStd, bias });
  const split = (y: Tensor) => op.reshape(y, [b, t, h, d]); // [B, T, C] -> [B, T, H, D]
  if (options.cache) {
    const fused = op.multiHeadAttention(
      q,
      k,
      v,
      options.cache.mask,
      options.cache.pastK,
      options.cache.pastV,
      h,
      1 / Math.sqrt(d),
    );
    return { out: project(fused.out), k: split(k), v: split(v) };
  }
  const heads = (y: Tensor) => op.transpose(split(y), [0, 2, 1, 3]); // [B, T, C] -> [B, H, T, D]
  const kh = heads(k);
  const vh = heads(v);
  let scores = op.mul(op.matmul(heads(q), op.transposeLast(kh)), 1 / Math.sqrt(d)); // [B, H, T, T]
  if (options.causalMaxT !== undefined) scores = op.add(scores, causalMask(x, options.causalMaxT, t));
  if (options.mask) scores = op.add(scores, options.mask);
  const y = op.matmul(op.softmax(scores, -1), vh); // [B, H, T, D]
  return { out: project(op.reshape(op.transpose(y, [0, 2, 1, 3]), [b, t, c])), k: kh, v: vh }; // [B, H, T, D] -> [B, T, C]
}
