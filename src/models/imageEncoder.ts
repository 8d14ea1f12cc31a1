// The image tower: a small ViT over windowed CT slices. HU values are mapped on the host
// to one channel per intensity window (lung, mediastinum, ...) and resampled to a square
// image; in the graph, patch tokens (a linear map of each patch, or a convolutional stem)
// -> [CLS] + position embeddings -> pre-norm encoder blocks -> pooled feature -> linear
// projection -> L2-normalised embedding.
//
// Dims: B batch, C channels (windows), S image side, P patch, N patches, D width, E embedding.

import { z } from "zod";
import { op, type Tensor } from "../graph/index.js";
import {
  addPositionEmbedding,
  convStemEmbedding,
  l2Normalize,
  linear,
  maxPool,
  meanPool,
  patchEmbedding,
  prependClsToken,
  type Scope,
  transformerEncoder,
} from "../nn/index.js";

export const HuWindow = z
  .object({
    /** Window centre (level) in HU. */
    center: z.number(),
    /** Window width in HU; values outside [center - width/2, center + width/2] saturate. */
    width: z.number().positive(),
  })
  .strict();
export type HuWindow = z.infer<typeof HuWindow>;

export const ImageEncoderConfig = z
  .object({
    /** Side S of the square image the encoder sees (slices are resampled to S×S). */
    imageSize: z.number().int().positive(),
    /** One input channel per window, each mapped to [0, 1]. */
    windows: z.array(HuWindow).min(1),
    /** Patch side P; imageSize must be a multiple. */
    patch: z.number().int().positive(),
    /**
     * Patch embedding: a linear map of each P×P patch (ViT), or a convolutional stem of
     * 3×3 stride-2 convolutions with these output channels (P must be 2^length).
     */
    stem: z
      .union([z.literal("linear"), z.object({ convChannels: z.array(z.number().int().positive()).min(1) }).strict()])
      .default("linear"),
    /** Model width D. */
    dim: z.number().int().positive(),
    /** Attention heads (dim must be a multiple). */
    heads: z.number().int().positive(),
    /** Encoder blocks. */
    layers: z.number().int().positive(),
    /** MLP hidden width. */
    hidden: z.number().int().positive(),
    /** Pooled feature: the [CLS] token's output, or the mean or max over patches. */
    pool: z.enum(["cls", "mean", "max"]),
  })
  .strict()
  .refine((c) => c.imageSize % c.patch === 0, { message: "imageSize must be a multiple of patch" })
  .refine((c) => c.dim % c.heads === 0, { message: "dim must be a multiple of heads" })
  .refine((c) => c.stem === "linear" || 2 ** c.stem.convChannels.length === c.patch, {
    message: "a conv stem halves the image once per channel entry: patch must be 2^convChannels.length",
  });
export type ImageEncoderConfig = z.infer<typeof ImageEncoderConfig>;

/** Lung and mediastinal windows: air-filled lesions show in the first, fluid and soft tissue in the second. */
export const CHEST_WINDOWS: readonly HuWindow[] = [
  { center: -600, width: 1500 },
  { center: 40, width: 400 },
];

/** The float32 values the encoder expects for one slice: [C, S, S], channel-major. */
export function preprocessHu(
  hu: ArrayLike<number>,
  width: number,
  height: number,
  cfg: { imageSize: number; windows: readonly HuWindow[] },
): Float32Array {
  if (hu.length !== width * height) throw new Error(`preprocessHu: ${hu.length} values do not fill a ${width}x${height} slice`);
  const s = cfg.imageSize;
  const resized = resampleArea(hu, width, height, s);
  const out = new Float32Array(cfg.windows.length * s * s);
  cfg.windows.forEach((w, c) => {
    const low = w.center - w.width / 2;
    for (let i = 0; i < s * s; i++) out[c * s * s + i] = Math.min(1, Math.max(0, (resized[i] - low) / w.width));
  });
  return out;
}

/**
 * Area-average resampling to side×side (each output pixel is the mean of the input
 * area it covers, with fractional overlaps): exact box averaging for integer factors.
 */
function resampleArea(src: ArrayLike<number>, width: number, height: number, side: number): Float32Array {
  if (width === side && height === side) return Float32Array.from(src);
  const out = new Float32Array(side * side);
  const sx = width / side;
  const sy = height / side;
  for (let oy = 0; oy < side; oy++) {
    const y0 = oy * sy;
    const y1 = y0 + sy;
    for (let ox = 0; ox < side; ox++) {
      const x0 = ox * sx;
      const x1 = x0 + sx;
      let sum = 0;
      let area = 0;
      for (let y = Math.floor(y0); y < Math.min(height, Math.ceil(y1)); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.min(width, Math.ceil(x1)); x++) {
          const w = wy * (Math.min(x + 1, x1) - Math.max(x, x0));
          sum += w * src[y * width + x];
          area += w;
        }
      }
      out[oy * side + ox] = sum / area;
    }
  }
  return out;
}

export interface ImageEncoderOutputs {
  /** Token outputs [B, N(+1), D] (for patch-level heads). */
  tokens: Tensor;
  /** Pooled feature [B, D] (for classification heads). */
  features: Tensor;
  /** Unit-norm embedding [B, E]. */
  embedding: Tensor;
}

/**
 * pixels [B, C, S, S] -> embedding [B, E]. Parameters under `scope` (the ViT) and `projection`
 * (the [D, E] head, no bias, as CLIP's visual_projection).
 */
export function imageEncoder(
  scope: Scope,
  projection: Scope,
  cfg: ImageEncoderConfig,
  pixels: Tensor,
  embedDim: number,
): ImageEncoderOutputs {
  const want = [cfg.windows.length, cfg.imageSize, cfg.imageSize];
  if (pixels.rank !== 4 || want.some((d, i) => pixels.shape[i + 1] !== d))
    throw new Error(`imageEncoder: pixels must be [B, ${want.join(", ")}], got [${pixels.shape.join(", ")}]`);
  const emb = scope.child("embeddings");
  let x =
    cfg.stem === "linear"
      ? patchEmbedding(emb.child("patch_embedding"), pixels, { patch: cfg.patch, dim: cfg.dim })
      : convStemEmbedding(emb.child("conv_stem"), pixels, { channels: cfg.stem.convChannels, dim: cfg.dim }); // [B, N, D]
  if (cfg.pool === "cls") x = prependClsToken(emb.child("class_embedding"), x); // [B, N+1, D]
  x = addPositionEmbedding(emb.child("position_embedding"), x);
  const tokens = transformerEncoder(scope.child("encoder"), x, cfg); // [B, N(+1), D]
  const features =
    cfg.pool === "cls" ? op.squeeze(op.slice(tokens, 1, 0, 1), 1) : cfg.pool === "max" ? maxPool(tokens) : meanPool(tokens); // [B, D]
  const embedding = l2Normalize(linear(projection, features, embedDim, { std: 1 / Math.sqrt(cfg.dim) })); // [B, E]
  return { tokens, features, embedding };
}
