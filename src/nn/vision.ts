// Encoder building blocks shared by the image and text towers: ViT patch embedding (a
// reshape plus MatMul, gradient-checkable in float64, which ONNX Runtime's Conv is not) or
// a convolutional stem (float32), learned position embeddings, a [CLS] token,
// and the pre-norm encoder block (bidirectional attention, see ./attention.ts, with an
// optional key padding mask).
//
// Dims: B batch, C channels, H/W image height/width, P patch size, N patches (or tokens),
// D model width, Hd heads, Dh head size.

import { op, type Tensor } from "../graph/index.js";
import { attention } from "./attention.js";
import { layerNorm, linear, mlp } from "./layers.js";
import type { Scope } from "./scope.js";

function staticShape(x: Tensor, what: string): number[] {
  return x.shape.map((d) => {
    if (typeof d !== "number") throw new Error(`${what}: needs a static shape, got [${x.shape.join(", ")}]`);
    return d;
  });
}

/**
 * Cut images into non-overlapping P×P patches, row-major over the patch grid:
 * [B, H, W] or [B, C, H, W] -> [B, N, C*P*P] with N = (H/P)(W/P).
 */
export function patchify(images: Tensor, patch: number): Tensor {
  const x = images.rank === 3 ? op.unsqueeze(images, 1) : images; // [B, C, H, W]
  if (x.rank !== 4) throw new Error(`patchify: images must be [B, H, W] or [B, C, H, W], got [${images.shape.join(", ")}]`);
  const [b, c, h, w] = staticShape(x, "patchify");
  if (h % patch !== 0 || w % patch !== 0) throw new Error(`patchify: image ${h}x${w} is not a multiple of patch size ${patch}`);
  const gh = h / patch;
  const gw = w / patch;
  const grid = op.reshape(x, [b, c, gh, patch, gw, patch]); // [B, C, Gh, P, Gw, P]
  const patches = op.transpose(grid, [0, 2, 4, 1, 3, 5]); // [B, Gh, Gw, C, P, P]
  return op.reshape(patches, [b, gh * gw, c * patch * patch]); // [B, N, C*P*P]
}

/** Patch embedding: patchify then a linear map with bias, [B, (C,) H, W] -> [B, N, D]. */
export function patchEmbedding(scope: Scope, images: Tensor, options: { patch: number; dim: number }): Tensor {
  const patches = patchify(images, options.patch);
  const fanIn = patches.shape[2] as number;
  return linear(scope, patches, options.dim, { std: 1 / Math.sqrt(fanIn), bias: true });
}

/**
 * Convolutional stem ("Early convolutions help transformers see better", Xiao et al. 2021):
 * 3×3 stride-2 convolutions with bias and ReLU, one per halving, then a linear map of each
 * cell to D. Same token grid as `patchEmbedding` with P = 2^channels.length, but small
 * structures (a 2-pixel nodule) reach the tokens through overlapping, nonlinear filters
 * instead of one linear map of the patch. [B, C, H, W] -> [B, N, D].
 * Parameters: `conv.{i}.weight` [Co, Ci, 3, 3], `conv.{i}.bias` [Co], `proj.weight`, `proj.bias`.
 */
export function convStemEmbedding(scope: Scope, images: Tensor, options: { channels: readonly number[]; dim: number }): Tensor {
  let x = images; // [B, C, H, W]
  options.channels.forEach((co, i) => {
    const [, ci] = staticShape(x, "convStemEmbedding");
    const conv = scope.child("conv").child(i);
    const w = conv.param("weight", [co, ci, 3, 3], { kind: "normal", std: Math.sqrt(2 / (ci * 9)) }); // He init for ReLU
    const b = conv.param("bias", [co], { kind: "constant", value: 0 });
    x = op.relu(op.add(op.conv2d(x, w, { stride: [2, 2], padding: [1, 1, 1, 1] }), op.reshape(b, [1, co, 1, 1]))); // [B, Co, H/2, W/2]
  });
  const [b, c, gh, gw] = staticShape(x, "convStemEmbedding");
  const cells = op.transpose(op.reshape(x, [b, c, gh * gw]), [0, 2, 1]); // [B, N, C]
  return linear(scope.child("proj"), cells, options.dim, { std: 1 / Math.sqrt(c), bias: true }); // [B, N, D]
}

/** x [B, N, D] + a learned table [N, D] (parameter `weight`). */
export function addPositionEmbedding(scope: Scope, x: Tensor, std = 0.02): Tensor {
  const [, n, d] = staticShape(x, "addPositionEmbedding");
  return op.add(x, scope.param("weight", [n, d], { kind: "normal", std }));
}

/** Prepend a learned [CLS] vector (parameter `weight` [D]): [B, N, D] -> [B, N+1, D]. */
export function prependClsToken(scope: Scope, x: Tensor, std = 0.02): Tensor {
  const [b, , d] = staticShape(x, "prependClsToken");
  const cls = op.expand(op.reshape(scope.param("weight", [d], { kind: "normal", std }), [1, 1, d]), [b, 1, d]); // [B, 1, D]
  return op.concat([cls, x], 1);
}

export interface EncoderConfig {
  heads: number;
  layers: number;
  /** MLP hidden width. */
  hidden: number;
}

/**
 * A stack of pre-norm blocks (x + attn(ln(x)), x + mlp(ln(x))) and a final LayerNorm,
 * parameters under `layers.{i}.{layer_norm1,self_attn,layer_norm2,mlp}` and
 * `post_layernorm` (CLIP's names). x [B, T, D] -> [B, T, D].
 */
export function transformerEncoder(scope: Scope, x: Tensor, cfg: EncoderConfig, mask?: Tensor): Tensor {
  const outStd = 0.02 / Math.sqrt(2 * cfg.layers);
  let y = x;
  for (let i = 0; i < cfg.layers; i++) {
    const block = scope.child("layers").child(i);
    y = op.add(
      y,
      attention(block.child("self_attn"), layerNorm(block.child("layer_norm1"), y), {
        heads: cfg.heads,
        projections: "fused",
        outName: "out_proj",
        bias: true,
        outStd,
        mask,
      }).out,
    );
    y = op.add(y, mlp(block.child("mlp"), layerNorm(block.child("layer_norm2"), y), cfg.hidden, outStd));
  }
  return layerNorm(scope.child("post_layernorm"), y);
}

/** Mean over the tokens whose `keep` [B, T] is 1 (all when omitted): [B, T, D] -> [B, D]. */
export function meanPool(x: Tensor, keep?: Tensor): Tensor {
  if (!keep) return op.reduceMean(x, 1);
  const w = op.unsqueeze(keep, -1); // [B, T, 1]
  return op.div(op.reduceSum(op.mul(x, w), 1), op.reduceSum(w, 1)); // [B, D]
}

/**
 * Max over the tokens whose `keep` [B, T] is 1 (all when omitted): [B, T, D] -> [B, D].
 * A feature fires if any token shows it: a small lesion or one telling word is not
 * averaged away as in meanPool.
 */
export function maxPool(x: Tensor, keep?: Tensor): Tensor {
  if (!keep) return op.reduceMax(x, 1);
  return op.reduceMax(op.add(x, op.mul(op.sub(op.unsqueeze(keep, -1), 1), 1e9)), 1); // padding -> -1e9
}

/** x / ||x|| over the last axis: unit vectors (the shared embedding space). */
export function l2Normalize(x: Tensor, eps = 1e-12): Tensor {
  return op.div(x, op.sqrt(op.add(op.reduceSum(op.mul(x, x), -1, true), eps)));
}
