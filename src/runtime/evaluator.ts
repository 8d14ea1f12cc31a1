// Inference over a graph whose parameters stay inputs: one compiled session serves a whole
// training run (evaluation while the parameters change) and production inference alike.

import { type Tensor, toOnnx } from "../graph/index.js";
import type { ParamStore } from "./params.js";
import { type CompiledGraph, compile, type HostTensor } from "./session.js";

/**
 * Forward-only evaluation of some outputs with the current parameters fed as inputs,
 * so one compiled session serves the whole run while the parameters change.
 */
export class Evaluator {
  private constructor(
    private readonly compiled: CompiledGraph,
    private readonly store: ParamStore,
    private readonly paramNames: string[],
  ) {}

  static async create(outputs: Record<string, Tensor>, store: ParamStore, threads?: number): Promise<Evaluator> {
    const model = toOnnx({ outputs, name: "eval" });
    const compiled = await compile(model, { threads });
    const graph = Object.values(outputs)[0].graph;
    const paramNames = model.inputNames.filter((n) => graph.params.has(n));
    return new Evaluator(compiled, store, paramNames);
  }

  async run(batch: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const feeds: Record<string, HostTensor> = { ...batch };
    for (const name of this.paramNames) feeds[name] = this.store.host(name);
    return this.compiled.run(feeds);
  }
}
