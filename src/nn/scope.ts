// Hierarchical parameter names ("h.0.attn.qkv.weight"), so checkpoints get stable,
// Hugging Face-style tensor names without a module system.

import type { DType, Graph, Init, Tensor } from "../graph/index.js";
import { dequantizedWeight, type LoraBankPlan, type LoraPlan } from "./lora.js";

export class Scope {
  constructor(
    readonly graph: Graph,
    readonly prefix = "",
    /** Parameters created under a frozen scope are not trained (e.g. a LoRA base). */
    readonly frozen = false,
    /** LoRA updates for the linears whose module name matches (see ./lora.ts). */
    readonly lora?: LoraPlan,
    /** Inference with many adapters: the banked updates of the listed modules (see ./lora.ts). */
    readonly bank?: LoraBankPlan,
  ) {}

  child(name: string | number): Scope {
    return new Scope(this.graph, this.prefix ? `${this.prefix}.${name}` : String(name), this.frozen, this.lora, this.bank);
  }

  freeze(): Scope {
    return new Scope(this.graph, this.prefix, true, this.lora, this.bank);
  }

  param(name: string, shape: readonly number[], init: Init, dtype: DType = "float32", trainable = !this.frozen): Tensor {
    return this.graph.param(this.name(name), shape, init, { trainable, dtype });
  }

  /**
   * A weight matrix (embedding table, stacked experts): a parameter, or under QLoRA's frozen
   * base its NF4 codes fed as inputs and dequantized in the graph (see lora.ts).
   */
  matrix(name: string, shape: readonly number[], init: Init): Tensor {
    const qb = this.frozen ? this.lora?.quantizedBase : undefined;
    return qb ? dequantizedWeight(this.graph, this.name(name), shape, qb) : this.param(name, shape, init);
  }

  /** The full name of parameter `name` in this scope. */
  name(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }
}
