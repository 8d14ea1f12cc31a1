// LoRA (Hu et al.): a frozen weight W plus a trained low-rank update, y = x W + (α/r) · x Aᵀ Bᵀ,
// A [r, in] (random), B [out, r] (zeros, so training starts from the base model exactly).
// Only A and B train; W is frozen (embedded as a constant in the training step, never fed or
// differentiated). Names and shapes follow Hugging Face PEFT: for a module M ("model.layers.0.
// self_attn.q_proj") the update is "M.lora_A.weight" [r, in] and "M.lora_B.weight" [out, r].
// Which modules get one is PEFT's `target_modules` rule: a module matches a target when its
// name is the target or ends with "." + target ("q_proj" matches every layer's q_proj).

import { z } from "zod";
import { op, type Tensor } from "../graph/index.js";

export const LoraConfig = z
  .object({
    /** Rank r of the update. */
    r: z.number().int().positive(),
    /** Scale α: the update is multiplied by α / r. */
    alpha: z.number().positive(),
    /** Dropout on the update's input while training (0: none). */
    dropout: z.number().min(0).lt(1),
    /** Module names (or name suffixes) that get an update, e.g. ["q_proj", "v_proj"]. */
    targetModules: z.array(z.string().min(1)).min(1),
  })
  .strict();
export type LoraConfig = z.infer<typeof LoraConfig>;

/** PEFT's defaults for a decoder: attention queries and values, r 8, α 16, no dropout. */
export const defaultLoraConfig: LoraConfig = { r: 8, alpha: 16, dropout: 0, targetModules: ["q_proj", "v_proj"] };

/** Whether module `name` gets a LoRA update under `targets` (PEFT's suffix rule). */
export function isLoraTarget(name: string, targets: readonly string[]): boolean {
  return targets.some((t) => name === t || name.endsWith(`.${t}`));
}

/** Parameter names of module `module`'s update. */
export const loraNames = (module: string) => ({ a: `${module}.lora_A.weight`, b: `${module}.lora_B.weight` });

/**
 * Parameter names of an embedding's update (PEFT's LoRA Embedding): A [r, V], B [C, r], the
 * table becoming E + (α/r) · Aᵀ Bᵀ. With tied embeddings the output head reads the same
 * adapted table.
 */
export const loraEmbeddingNames = (module: string) => ({ a: `${module}.lora_embedding_A`, b: `${module}.lora_embedding_B` });

/** How a model graph is being built: LoRA updates on the matching linears, dropout while training. */
export interface LoraPlan {
  config: LoraConfig;
  /** Training: dropout on the update's input (inference and merging: none). */
  train: boolean;
}

/**
 * The update (α/r) · dropout(x) Aᵀ Bᵀ for x [..., in] -> [..., out], given A [r, in], B [out, r].
 * Kaiming-uniform A and zero B (PEFT's init) come from the parameters' inits.
 */
export function loraDelta(x: Tensor, a: Tensor, b: Tensor, plan: LoraPlan): Tensor {
  const { r, alpha, dropout } = plan.config;
  let input = x;
  if (plan.train && dropout > 0) {
    const keep = op.cast(op.greater(op.randomUniformLike(x), dropout), x.dtype);
    input = op.mul(op.mul(x, keep), 1 / (1 - dropout));
  }
  return op.mul(op.matmul(op.matmul(input, op.transposeLast(a)), op.transposeLast(b)), alpha / r);
}
