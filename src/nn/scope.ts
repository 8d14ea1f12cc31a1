// Hierarchical parameter names ("h.0.attn.qkv.weight"), so checkpoints get stable,
// Hugging Face-style tensor names without a module system.

import type { DType, Graph, Init, Tensor } from "../graph/index.js";

export class Scope {
  constructor(
    readonly graph: Graph,
    readonly prefix = "",
    /** Parameters created under a frozen scope are not trained (e.g. a LoRA base). */
    readonly frozen = false,
  ) {}

  child(name: string | number): Scope {
    return new Scope(this.graph, this.prefix ? `${this.prefix}.${name}` : String(name), this.frozen);
  }

  freeze(): Scope {
    return new Scope(this.graph, this.prefix, true);
  }

  param(name: string, shape: readonly number[], init: Init, dtype: DType = "float32"): Tensor {
    const full = this.prefix ? `${this.prefix}.${name}` : name;
    return this.graph.param(full, shape, init, { trainable: !this.frozen, dtype });
  }
}
