// A small GPT: token + learned position embeddings, pre-norm blocks of causal
// self-attention and a GELU MLP, RMSNorm, untied LM head. Used to exercise and
// benchmark the engine (character-level LM); the MoE LM builds on the same blocks.

import { z } from "zod";
import { type Dim, type Graph, op, type Tensor } from "../graph/index.js";
import { attention, embedding, linear, mlp, rmsNorm, Scope } from "../nn/index.js";

export const GptConfig = z
  .object({
    /** Vocabulary size V. */
    vocab: z.number().int().positive(),
    /** Context length: the largest T the model sees. */
    blockSize: z.number().int().positive(),
    /** Model width C. */
    dim: z.number().int().positive(),
    /** Attention heads H (dim must be a multiple). */
    heads: z.number().int().positive(),
    /** Transformer blocks L. */
    layers: z.number().int().positive(),
    /** MLP hidden width; 4 * dim when omitted. */
    hidden: z.number().int().positive().optional(),
  })
  .strict()
  .refine((c) => c.dim % c.heads === 0, { message: "dim must be a multiple of heads" });
export type GptConfig = z.infer<typeof GptConfig>;

/** logits [B, T, V] for ids [B, T] (int64); T may be symbolic up to blockSize. */
export function gptLogits(graph: Graph, cfg: GptConfig, ids: Tensor): Tensor {
  const s = new Scope(graph);
  const t: Dim = ids.shape[1];
  const outStd = 0.02 / Math.sqrt(2 * cfg.layers);
  const tok = embedding(s.child("wte"), ids, cfg.vocab, cfg.dim); // [B, T, C]
  const table = s.child("wpe").param("weight", [cfg.blockSize, cfg.dim], { kind: "normal", std: 0.02 });
  let x = op.add(tok, op.slice(table, 0, 0, t)); // + [T, C]
  for (let i = 0; i < cfg.layers; i++) {
    const block = s.child("h").child(i);
    x = op.add(
      x,
      attention(block.child("attn"), rmsNorm(block.child("ln1"), x), {
        heads: cfg.heads,
        projections: "fused",
        causalMaxT: cfg.blockSize,
        outStd,
      }).out,
    );
    x = op.add(x, mlp(block.child("mlp"), rmsNorm(block.child("ln2"), x), cfg.hidden ?? 4 * cfg.dim, outStd));
  }
  return linear(s.child("lm_head"), rmsNorm(s.child("ln_f"), x), cfg.vocab); // [B, T, V]
}
