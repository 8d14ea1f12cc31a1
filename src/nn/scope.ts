// Hierarchical parameter names ("h.0.attn.qkv.weight"), so checkpoints get stable,
// Hugging Face-style tensor names without a module system.

import type { DType, Graph, Init, Tensor } from "../graph/index.js";
import type { LoraPlan } from "./lora.js";

export class Scope {
  constructor(
    readonly graph: Graph,
    readonly prefix = "",
    /** Parameters created under a frozen scope are not trained (e.g. a LoRA base). */
    readonly frozen = false,
    /** LoRA updates for the linears whose module name matches (see ./lora.ts). */
    readonly lora?: LoraPlan,
  ) {}

  child(name: string | number): Scope {
    return new Scope(this.graph, this.prefix ? `${this.prefix}.${name}` : String(name), this.frozen, this.lora);
  }

  freeze(): Scope {
    return new Scope(this.graph, this.prefix, true, this.lora);
  }

  param(name: string, shape: readonly number[], init: Init, dtype: DType = "float32", trainable = !this.frozen): Tensor {
    const full = this.prefix ? `${this.prefix}.${name}` : name;
    return this.graph.param(full, shape, init, { trainable, dtype });
  }
}
