// LoRA (Hu et al.): a frozen weight W plus a trained low-rank update, y = x W + (α/r) · x Aᵀ Bᵀ,
// A [r, in] (random), B [out, r] (zeros, so training starts from the base model exactly).
// Only A and B train; W is frozen (embedded as a constant in the training step, never fed or
// differentiated). Names and shapes follow Hugging Face PEFT: for a module M ("model.layers.0.
// self_attn.q_proj") the update is "M.lora_A.weight" [r, in] and "M.lora_B.weight" [out, r].
// Which modules get one is PEFT's `target_modules` rule: a module matches a target when its
// name is the target or ends with "." + target ("q_proj" matches every layer's q_proj).

import { z } from "zod";
import { ABSMAX_BLOCK_SIZE, type Graph, nf4Sizes, op, type Tensor } from "../graph/index.js";

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
  /** QLoRA: the frozen base's weight matrices are 4-bit NormalFloat inputs (see nf4Weight). */
  quantizedBase?: QuantizedBase;
}

/** QLoRA's storage of the frozen base: NF4 blocks, optionally double-quantized block scales. */
export interface QuantizedBase {
  blockSize: number;
  doubleQuant: boolean;
}

/**
 * Graph input names of a QLoRA base weight `param`: its NF4 codes (`.nf4`, in the stored
 * layout; `.nf4_t`, the last two axes swapped, for MatMulBnb4's [out, in]) and its block
 * scales: float32 absmaxes, or with double quantization their 8-bit codes, scales and offset.
 */
export const nf4InputNames = (param: string, transposed: boolean) => {
  const codes = `${param}.${transposed ? "nf4_t" : "nf4"}`;
  return {
    codes,
    absmax: `${codes}.absmax`,
    absmaxQ: `${codes}.absmax_q`,
    absmaxScale: `${codes}.absmax_scale`,
    absmaxOffset: `${codes}.absmax_offset`,
  };
};

/** The QLoRA base weight `param` of `shape` as fed: codes and (rebuilt) absmaxes, no gradient. */
export function nf4Weight(graph: Graph, param: string, shape: readonly number[], transposed: boolean, qb: QuantizedBase) {
  const numel = shape.reduce((a, b) => a * b, 1);
  const { packedBytes, blocks } = nf4Sizes(numel, qb.blockSize);
  const names = nf4InputNames(param, transposed);
  const codes = graph.input(names.codes, "uint8", [packedBytes]);
  const absmax = qb.doubleQuant
    ? op.dequantizeAbsmax(
        graph.input(names.absmaxQ, "uint8", [blocks]),
        graph.input(names.absmaxScale, "float32", [Math.ceil(blocks / ABSMAX_BLOCK_SIZE)]),
        graph.input(names.absmaxOffset, "float32", []),
        ABSMAX_BLOCK_SIZE,
      )
    : graph.input(names.absmax, "float32", [blocks]);
  return { codes, absmax: op.stopGradient(absmax) };
}

/**
 * A frozen QLoRA base matrix [..., rows, cols] rebuilt in float32 inside the step (embeddings,
 * stacked experts): dequantized from NF4 codes in the stored layout.
 */
export function dequantizedWeight(graph: Graph, param: string, shape: readonly number[], qb: QuantizedBase): Tensor {
  const { codes, absmax } = nf4Weight(graph, param, shape, false, qb);
  const k = shape[shape.length - 1];
  const n = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return op.reshape(op.dequantizeBnb4(codes, absmax, { k, n, blockSize: qb.blockSize }), shape);
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

// ---------------------------------------------------------------- many adapters in one batch

/**
 * Serving many adapters in one batch (S-LoRA / Punica's idea, in two dense matmuls): each
 * targeted linear gets the loaded adapters' updates side by side, A_bank [in, R] = [A_1ᵀ … A_kᵀ]
 * and B_bank [R, out] = [s_1 B_1ᵀ; …; s_k B_kᵀ] (R = r_1 + … + r_k, each scale folded into its
 * B), and each token a 0/1 selection [.., R] over its own adapter's columns:
 *   y = x W + ((x A_bank) ⊙ select) B_bank,
 * so the base matmul runs once for the batch and every row adds only its own adapter's delta
 * (a row of the base model selects nothing). An adapter that does not update a module has zero
 * columns there.
 */
export interface LoraBankPlan {
  /** Modules with a bank (the union of the adapters' targets, full names). */
  modules: ReadonlySet<string>;
  /** Per token, its adapter's columns [B, T, R] (float 0/1). */
  select: Tensor;
}

/** Graph input names of module `module`'s bank. */
export const loraBankNames = (module: string) => ({ a: `${module}.lora_bank_A`, b: `${module}.lora_bank_B` });

/** Name of the per-token selection input. */
export const LORA_SELECT = "lora_select";
/** The symbolic width R of every bank (the ranks of the batch's adapters, side by side). */
export const LORA_BANK_DIM = "R";

/** The banked update of module `module` for x [..., in] -> [..., out]. */
export function loraBankDelta(x: Tensor, module: string, inDim: number, outDim: number, bank: LoraBankPlan): Tensor {
  const names = loraBankNames(module);
  const a = x.graph.input(names.a, "float32", [inDim, LORA_BANK_DIM]);
  const b = x.graph.input(names.b, "float32", [LORA_BANK_DIM, outDim]);
  // The selection is per token: reshape [B, T, R] to x's leading axes (e.g. [B*T, R] in the MoE block).
  const select = op.reshape(bank.select, [...x.shape.slice(0, -1), LORA_BANK_DIM]);
  return op.matmul(op.mul(op.matmul(x, a), select), b);
}
