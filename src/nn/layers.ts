// Building blocks as graph functions: each takes a Scope (where its parameters live)
// and input tensors, and returns output tensors. Weights are stored [in, out] and used
// as x @ W, as in GPT-2's checkpoints.

import { op, type Tensor } from "../graph/index.js";
import { isLoraTarget, loraBankDelta, loraDelta, nf4Weight } from "./lora.js";
import type { Scope } from "./scope.js";

/** x [..., in] -> [..., out]; with a LoRA plan that targets this module, plus its trained low-rank update. */
export function linear(scope: Scope, x: Tensor, outDim: number, opts: { std?: number; bias?: boolean } = {}): Tensor {
  const inDim = x.shape[x.rank - 1];
  if (typeof inDim !== "number") throw new Error(`linear ${scope.prefix}: input width must be static, got ${inDim}`);
  const qb = scope.frozen ? scope.lora?.quantizedBase : undefined;
  let y: Tensor;
  if (qb) {
    // QLoRA's frozen base: 4-bit codes of Wᵀ [out, in] multiplied in one fused kernel, never float32 in memory.
    const { codes, absmax } = nf4Weight(scope.graph, scope.name("weight"), [outDim, inDim], true, qb);
    y = op.matmulBnb4(x, codes, absmax, { k: inDim, n: outDim, blockSize: qb.blockSize });
  } else {
    y = op.matmul(x, scope.param("weight", [inDim, outDim], { kind: "normal", std: opts.std ?? 0.02 }));
  }
  if (scope.lora && isLoraTarget(scope.prefix, scope.lora.config.targetModules)) {
    const { r } = scope.lora.config;
    // PEFT's init: A Kaiming-uniform (bound sqrt(6 / ((1 + 5) · in)) = 1 / sqrt(in)), B zeros.
    const bound = 1 / Math.sqrt(inDim);
    const a = scope.child("lora_A").param("weight", [r, inDim], { kind: "uniform", low: -bound, high: bound }, "float32", true);
    const b = scope.child("lora_B").param("weight", [outDim, r], { kind: "constant", value: 0 }, "float32", true);
    y = op.add(y, loraDelta(x, a, b, scope.lora));
  }
  if (scope.bank?.modules.has(scope.prefix)) y = op.add(y, loraBankDelta(x, scope.prefix, inDim, outDim, scope.bank));
  return opts.bias ? op.add(y, scope.param("bias", [outDim], { kind: "constant", value: 0 })) : y;
}

/**
 * An embedding table [vocab, dim]; with a LoRA plan that targets this module, the adapted
 * table E + (α/r) · Aᵀ Bᵀ (PEFT's init for embeddings: A zeros, B normal).
 */
export function embeddingTable(scope: Scope, vocab: number, dim: number, std = 0.02): Tensor {
  const table = scope.matrix("weight", [vocab, dim], { kind: "normal", std });
  if (!scope.lora || !isLoraTarget(scope.prefix, scope.lora.config.targetModules)) return table;
  const { r, alpha } = scope.lora.config;
  const a = scope.param("lora_embedding_A", [r, vocab], { kind: "constant", value: 0 }, "float32", true);
  const b = scope.param("lora_embedding_B", [dim, r], { kind: "normal", std: 1 }, "float32", true);
  return op.add(table, op.mul(op.matmul(op.transposeLast(a), op.transposeLast(b)), alpha / r));
}

/** ids [...] (int64) -> [..., dim]. */
export function embedding(scope: Scope, ids: Tensor, vocab: number, dim: number, std = 0.02): Tensor {
  return op.gather(embeddingTable(scope, vocab, dim, std), ids, 0);
}

/** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(scope: Scope, x: Tensor, eps = 1e-5): Tensor {
  const dim = x.shape[x.rank - 1] as number;
  const weight = scope.param("weight", [dim], { kind: "constant", value: 1 });
  // x^2 as Pow(x, 2): the pattern ONNX Runtime fuses into SimplifiedLayerNormalization.
  const rms = op.sqrt(op.add(op.reduceMean(op.pow(x, 2), -1, true), eps));
  return op.mul(op.div(x, rms), weight);
}

/** LayerNorm over the last axis with weight and bias. */
export function layerNorm(scope: Scope, x: Tensor, eps = 1e-5): Tensor {
  const dim = x.shape[x.rank - 1] as number;
  const centered = op.sub(x, op.reduceMean(x, -1, true));
  const variance = op.reduceMean(op.mul(centered, centered), -1, true);
  const y = op.div(centered, op.sqrt(op.add(variance, eps)));
  const weight = scope.param("weight", [dim], { kind: "constant", value: 1 });
  const bias = scope.param("bias", [dim], { kind: "constant", value: 0 });
  return op.add(op.mul(y, weight), bias);
}

/** SwiGLU feed-forward (Llama, DeepSeek): (silu(x @ Wgate) * (x @ Wup)) @ Wdown. */
export function swiGlu(scope: Scope, x: Tensor, hidden: number, outStd?: number): Tensor {
  const c = x.shape[x.rank - 1] as number;
  const h = op.mul(op.silu(linear(scope.child("gate_proj"), x, hidden)), linear(scope.child("up_proj"), x, hidden));
  return linear(scope.child("down_proj"), h, c, { std: outStd });
}

/** GPT-style MLP: gelu(x @ W1) @ W2 with a 4x hidden width. */
export function mlp(scope: Scope, x: Tensor, hidden: number, outStd?: number): Tensor {
  const c = x.shape[x.rank - 1] as number;
  return linear(scope.child("fc2"), op.gelu(linear(scope.child("fc1"), x, hidden)), c, { std: outStd });
}
