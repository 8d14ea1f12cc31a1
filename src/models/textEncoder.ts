// The text tower: byte-level BPE ids (a <|cls|> id first, <|pad|> ids last) -> token +
// learned position embeddings -> bidirectional pre-norm encoder (padding keys masked) ->
// pooled feature -> linear projection -> L2-normalised embedding.
//
// Dims: B batch, T tokens, V vocabulary, D width, E embedding.

import { z } from "zod";
import type { BpeTokenizer } from "../data/index.js";
import { op, type Tensor } from "../graph/index.js";
import {
  embedding,
  keyPaddingMask,
  l2Normalize,
  linear,
  maxPool,
  meanPool,
  type Scope,
  transformerEncoder,
} from "../nn/index.js";

/** The tokenizer's special tokens, ids 0, 1, 2 in this order. */
export const TEXT_SPECIAL_TOKENS = ["<|pad|>", "<|cls|>", "<|mask|>"] as const;
export const PAD_ID = 0;
export const CLS_ID = 1;
export const MASK_ID = 2;

export const TextEncoderConfig = z
  .object({
    /** Vocabulary size V (the tokenizer's). */
    vocab: z.number().int().positive(),
    /** Tokens per text T, the <|cls|> id included; longer texts are cut. */
    maxLen: z.number().int().min(2),
    /** Model width D. */
    dim: z.number().int().positive(),
    /** Attention heads (dim must be a multiple). */
    heads: z.number().int().positive(),
    /** Encoder blocks. */
    layers: z.number().int().positive(),
    /** MLP hidden width. */
    hidden: z.number().int().positive(),
    /** Pooled feature: the <|cls|> position's output, or the mean or max over non-padding tokens. */
    pool: z.enum(["cls", "mean", "max"]),
  })
  .strict()
  .refine((c) => c.dim % c.heads === 0, { message: "dim must be a multiple of heads" });
export type TextEncoderConfig = z.infer<typeof TextEncoderConfig>;

/** int64 ids [n, maxLen]: <|cls|>, the text's tokens (cut to fit), then <|pad|>. */
export function tokenizeTexts(tokenizer: BpeTokenizer, texts: readonly string[], maxLen: number): BigInt64Array {
  const ids = new BigInt64Array(texts.length * maxLen); // PAD_ID is 0
  texts.forEach((text, i) => {
    const row = [CLS_ID, ...tokenizer.encode(text, { allowSpecial: false })].slice(0, maxLen);
    row.forEach((id, t) => {
      ids[i * maxLen + t] = BigInt(id);
    });
  });
  return ids;
}

export interface TextEncoderOutputs {
  /** Token outputs [B, T, D] (for the masked-token head). */
  tokens: Tensor;
  /** Pooled feature [B, D]. */
  features: Tensor;
  /** Unit-norm embedding [B, E]. */
  embedding: Tensor;
}

/**
 * ids [B, T] (int64) -> embedding [B, E]. Parameters under `scope` (the encoder) and
 * `projection` (the [D, E] head, no bias, as CLIP's text_projection).
 */
export function textEncoder(
  scope: Scope,
  projection: Scope,
  cfg: TextEncoderConfig,
  ids: Tensor,
  embedDim: number,
): TextEncoderOutputs {
  if (ids.rank !== 2 || ids.dtype !== "int64" || ids.shape[1] !== cfg.maxLen)
    throw new Error(`textEncoder: ids must be int64 [B, ${cfg.maxLen}], got ${ids.dtype} [${ids.shape.join(", ")}]`);
  const keep = op.sub(1, op.cast(op.equal(ids, op.scalar(ids.graph, PAD_ID, "int64")), "float32")); // [B, T], 1 = token
  const emb = scope.child("embeddings");
  const tok = embedding(emb.child("token_embedding"), ids, cfg.vocab, cfg.dim); // [B, T, D]
  const pos = emb.child("position_embedding").param("weight", [cfg.maxLen, cfg.dim], { kind: "normal", std: 0.02 });
  const tokens = transformerEncoder(scope.child("encoder"), op.add(tok, pos), cfg, keyPaddingMask(keep)); // [B, T, D]
  const features =
    cfg.pool === "cls"
      ? op.squeeze(op.slice(tokens, 1, 0, 1), 1)
      : cfg.pool === "max"
        ? maxPool(tokens, keep)
        : meanPool(tokens, keep); // [B, D]
  const embeddingOut = l2Normalize(linear(projection, features, embedDim, { std: 1 / Math.sqrt(cfg.dim) })); // [B, E]
  return { tokens, features, embedding: embeddingOut };
}
