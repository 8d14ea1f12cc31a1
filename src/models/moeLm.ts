// The DeepSeek-style MoE language model, read top to bottom:
// RMSNorm -> rotary positions -> causal attention (with a KV cache for decoding) ->
// dense SwiGLU FFN in the first layer(s), MoE FFN after -> final norm -> LM head
// (tied to the token embedding or not).
//
// Dims: B batch, T new tokens, P cached tokens, C width, H heads, D head size, V vocab,
// N = B*T tokens, E experts. Weights are stored [in, out] under Hugging Face-style names
// (model.layers.0.self_attn.q_proj.weight, ...).

import { z } from "zod";
import { type Dim, type Graph, op, type Tensor } from "../graph/index.js";
import {
  attention,
  embeddingTable,
  type KvCache,
  type LoraBankPlan,
  type LoraPlan,
  linear,
  loraBankNames,
  MoeConfig,
  type MoeDispatch,
  moeInfer,
  moeTrain,
  rmsNorm,
  Scope,
  swiGlu,
} from "../nn/index.js";

export const MoeLmConfig = z
  .object({
    /** Vocabulary size V. */
    vocab: z.number().int().positive(),
    /** Longest sequence (prompt + generated) the model handles. */
    maxSeq: z.number().int().positive(),
    /** Width C. */
    dim: z.number().int().positive(),
    /** Attention heads H; dim / heads must be even (rotary pairs). */
    heads: z.number().int().positive(),
    /** Transformer blocks. */
    layers: z.number().int().positive(),
    /** The first `denseLayers` blocks use a dense SwiGLU FFN (DeepSeek's first_k_dense_replace). */
    denseLayers: z.number().int().min(0),
    /** Hidden width of the dense FFNs. */
    denseHidden: z.number().int().positive(),
    /** Share the token embedding with the LM head. */
    tieEmbeddings: z.boolean(),
    ropeTheta: z.number().positive(),
    normEps: z.number().positive(),
    moe: MoeConfig,
    /**
     * Image prefix (multimodal models): `slots` positions of the prompt carry projected image
     * features [slots, features] (e.g. an aligned image encoder's patch tokens) added to their
     * token embeddings. Omit for a text-only model.
     */
    image: z.object({ slots: z.number().int().positive(), features: z.number().int().positive() }).strict().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.dim % c.heads !== 0 || (c.dim / c.heads) % 2 !== 0) {
      ctx.addIssue({ code: "custom", message: `dim ${c.dim} must split into ${c.heads} heads of even size` });
    }
    if (c.denseLayers > c.layers)
      ctx.addIssue({ code: "custom", message: `denseLayers ${c.denseLayers} exceeds layers ${c.layers}` });
  });
export type MoeLmConfig = z.infer<typeof MoeLmConfig>;

/** Indices of the MoE blocks. */
export const moeLayerIndices = (cfg: MoeLmConfig): number[] =>
  Array.from({ length: cfg.layers - cfg.denseLayers }, (_, i) => cfg.denseLayers + i);

/** Name of the aux-loss-free bias of MoE block i (DeepSeek-V3's e_score_correction_bias). */
export const routerBiasName = (layer: number): string => `model.layers.${layer}.mlp.gate.e_score_correction_bias`;

// ---------------------------------------------------------------- rotary positions

/** cos and sin tables [maxSeq, D/2] (rotate-half convention, as Llama and DeepSeek). */
function ropeTables(g: Graph, cfg: MoeLmConfig): { cos: Tensor; sin: Tensor } {
  const half = cfg.dim / cfg.heads / 2;
  const cos = new Float32Array(cfg.maxSeq * half);
  const sin = new Float32Array(cfg.maxSeq * half);
  for (let p = 0; p < cfg.maxSeq; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p / cfg.ropeTheta ** ((2 * i) / (2 * half));
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos: op.constant(g, cos, [cfg.maxSeq, half]), sin: op.constant(g, sin, [cfg.maxSeq, half]) };
}

/** Rotate x [B, T, H, D] by angles cos/sin [B or 1, T, 1, D/2]. */
function applyRope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const d = x.shape[3] as number;
  const x1 = op.slice(x, -1, 0, d / 2);
  const x2 = op.slice(x, -1, d / 2, d);
  return op.concat([op.sub(op.mul(x1, cos), op.mul(x2, sin)), op.add(op.mul(x1, sin), op.mul(x2, cos))], -1);
}

/** Rotates queries or keys [B, T, C] by their positions. */
type Rope = (x: Tensor) => Tensor;

/**
 * Training: positions 0..T-1, composed from primitives (it has a gradient). Inference with
 * explicit positions: ONNX Runtime's fused RotaryEmbedding, one node.
 */
function rope(g: Graph, cfg: MoeLmConfig, t: Dim, positions?: Tensor): Rope {
  const { cos, sin } = ropeTables(g, cfg);
  if (positions) return (x) => op.rotaryEmbedding(x, positions, cos, sin, cfg.heads);
  const angles = (table: Tensor) => op.unsqueeze(op.slice(table, 0, 0, t), 1); // [T, 1, D/2], broadcast over B and H
  const [c, s] = [angles(cos), angles(sin)];
  return (x) => {
    const [b, , width] = x.shape;
    const split = op.reshape(x, [b, t, cfg.heads, (width as number) / cfg.heads]); // [B, T, C] -> [B, T, H, D]
    return op.reshape(applyRope(split, c, s), x.shape);
  };
}

// ---------------------------------------------------------------- the model

/** Per-MoE-layer extra inputs while training. */
export interface MoeLayerInputs {
  bias?: Tensor; // [E]
  gumbel?: Tensor; // [N, E]
}

export interface MoeLmOutputs {
  logits: Tensor; // [B, T, V]
  /** Sum of the MoE blocks' balance losses (null when off or when inferring). */
  auxLoss: Tensor | null;
  /** Per MoE block: assignments per expert [E] and dropped assignments (training only). */
  router: { layer: number; load: Tensor; dropped: Tensor }[];
  /** The new positions' keys and values, per block (inference only): [B, T, H, D]. */
  present: { k: Tensor; v: Tensor }[];
}

export interface MoeLmForward {
  ids: Tensor; // [B, T] int64
  /** Training: dispatch with capacity and optional Gumbel noise; inference: fused, no drops. */
  mode: "train" | "infer";
  /** Domain group per token [B, T] int64 (-1: none), e.g. image tokens -> image experts. */
  domain?: Tensor;
  /** Positions [B, T] int64 (inference: each row's own offsets); 0..T-1 when absent. */
  positions?: Tensor;
  /** Per block: the KV cache in (inference). */
  cache?: KvCache[];
  /** Per MoE block (by index into moeLayerIndices): bias and Gumbel noise. */
  moeInputs?: MoeLayerInputs[];
  /**
   * Compute logits only at these positions (int64 [L]): [B, L, V]. Decoding asks for the last
   * position; a packed prefill for the last position of each prompt.
   */
  logitsAt?: Tensor;
  /** Inference: how the routed experts run (see MoeDispatch); "sparse" by default. */
  dispatch?: MoeDispatch;
  /**
   * Image prefix (cfg.image): features [B, S, F] and, per token, the slot whose projected
   * feature it adds to its embedding [B, T] int64 (S = no image: adds nothing).
   */
  image?: { features: Tensor; slots: Tensor };
  /**
   * LoRA: every parameter is frozen except the low-rank updates of the linears the plan
   * targets (attention q/k/v/o, dense and shared-expert gate/up/down, the router's gate).
   */
  lora?: LoraPlan;
  /** Inference with many adapters: each token's adapter delta on the bank's modules (see nn/lora.ts). */
  loraBank?: LoraBankPlan;
}

/** x [B, T, C] + the projected image feature of each token's slot (slot S adds zeros). */
function addImagePrefix(s: Scope, x: Tensor, cfg: MoeLmConfig, image: { features: Tensor; slots: Tensor }): Tensor {
  if (!cfg.image) throw new Error("moeLm: image inputs given but the config has no `image` section");
  const [b, t, c] = x.shape;
  const projected = linear(s, image.features, cfg.dim); // [B, S, F] -> [B, S, C]
  const padded = op.concat([projected, op.full(x.graph, [b, 1, c], 0, x.dtype)], 1); // [B, S+1, C]
  const index = op.expand(op.unsqueeze(image.slots, 2), [b, t, c]); // [B, T] -> [B, T, C]
  return op.add(x, op.gatherElements(padded, index, 1));
}

export function moeLm(graph: Graph, cfg: MoeLmConfig, forward: MoeLmForward): MoeLmOutputs {
  const root = new Scope(graph, "", forward.lora !== undefined, forward.lora, forward.loraBank);
  const model = root.child("model");
  const [b, t] = forward.ids.shape;
  const n: Dim = forward.ids.shape.every((x) => typeof x === "number") ? (b as number) * (t as number) : `${b}*${t}`;
  const rotate = rope(graph, cfg, t, forward.positions);

  const table = embeddingTable(model.child("embed_tokens"), cfg.vocab, cfg.dim); // [V, C] (LoRA: adapted)
  let x = op.gather(table, forward.ids, 0); // [B, T, C]
  if (forward.image) x = addImagePrefix(model.child("image_proj"), x, cfg, forward.image);
  const domain = forward.domain ? op.reshape(forward.domain, [n]) : undefined;
  let auxLoss: Tensor | null = null;
  const router: MoeLmOutputs["router"] = [];
  const present: MoeLmOutputs["present"] = [];
  const outStd = 0.02 / Math.sqrt(2 * cfg.layers);
  for (let i = 0; i < cfg.layers; i++) {
    const layer = model.child("layers").child(i);
    // Causal self-attention; with a KV cache (inference) one fused ONNX Runtime node.
    const att = attention(layer.child("self_attn"), rmsNorm(layer.child("input_layernorm"), x, cfg.normEps), {
      heads: cfg.heads,
      projections: "separate",
      outStd,
      causalMaxT: cfg.maxSeq,
      rotate,
      cache: forward.cache?.[i],
    });
    present.push({ k: att.k, v: att.v });
    x = op.add(x, att.out);
    const normed = rmsNorm(layer.child("post_attention_layernorm"), x, cfg.normEps);
    const mlp = layer.child("mlp");
    let ffn: Tensor;
    if (i < cfg.denseLayers) {
      ffn = swiGlu(mlp, normed, cfg.denseHidden, outStd);
    } else {
      const flat = op.reshape(normed, [n, cfg.dim]); // [N, C]
      const extra = forward.moeInputs?.[i - cfg.denseLayers] ?? {};
      if (forward.mode === "train") {
        const r = moeTrain(mlp, flat, cfg.moe, { ...extra, domain }, outStd);
        if (r.auxLoss) auxLoss = auxLoss ? op.add(auxLoss, r.auxLoss) : r.auxLoss;
        router.push({ layer: i, load: r.load, dropped: r.dropped });
        ffn = op.reshape(r.out, [b, t, cfg.dim]);
      } else {
        ffn = op.reshape(moeInfer(mlp, flat, cfg.moe, { bias: extra.bias, domain }, outStd, forward.dispatch), [b, t, cfg.dim]);
      }
    }
    x = op.add(x, ffn);
  }
  if (forward.logitsAt) x = op.gather(x, forward.logitsAt, 1); // [B, T, C] -> [B, L, C]
  x = rmsNorm(model.child("norm"), x, cfg.normEps);
  const logits = cfg.tieEmbeddings
    ? op.matmul(x, op.transposeLast(table)) // [B, T, V]
    : linear(root.child("lm_head"), x, cfg.vocab);
  if (forward.lora && ![...graph.params.keys()].some((name) => /\.lora_(A\.weight|embedding_A)$/.test(name))) {
    throw new Error(
      `LoRA target modules ${JSON.stringify(forward.lora.config.targetModules)} match no linear of this model (e.g. q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, embed_tokens, experts.<e>.gate_proj)`,
    );
  }
  const unbanked = [...(forward.loraBank?.modules ?? [])].find((m) => !graph.inputs.has(loraBankNames(m).a));
  if (unbanked !== undefined) throw new Error(`LoRA bank: module ${unbanked} is not a linear of this model's decoder`);
  return { logits, auxLoss, router, present: forward.cache ? present : [] };
}
