// The parameter store: values of a graph's parameters, initialised deterministically
// from a seed (each parameter from its own stream, keyed by name).

import type { Graph, Init } from "../graph/index.js";
import { Rng } from "./rng.js";
import { float32ToFloat16, type SafeTensor } from "./safetensors.js";
import type { HostTensor } from "./session.js";

export interface ParamEntry {
  shape: number[];
  data: Float32Array;
}

function initValues(n: number, init: Init, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  switch (init.kind) {
    case "normal":
      for (let i = 0; i < n; i++) out[i] = rng.normal() * init.std;
      break;
    case "uniform":
      for (let i = 0; i < n; i++) out[i] = init.low + (init.high - init.low) * rng.next();
      break;
    case "constant":
      out.fill(init.value);
      break;
  }
  return out;
}

export class ParamStore {
  readonly values = new Map<string, ParamEntry>();

  /** Initialise every float32 parameter of `graph` that the store does not hold yet. */
  static fromGraph(graph: Graph, seed: number): ParamStore {
    return new ParamStore().initMissing(graph, seed);
  }

  initMissing(graph: Graph, seed: number): this {
    for (const [name, t] of graph.params) {
      if (t.node.op !== "param") continue;
      const shape = t.shape as number[];
      const existing = this.values.get(name);
      if (existing) {
        if (existing.shape.join() !== shape.join()) {
          throw new Error(`parameter "${name}": stored shape [${existing.shape}] differs from graph shape [${shape}]`);
        }
        continue;
      }
      const n = shape.reduce((a, b) => a * b, 1);
      this.values.set(name, { shape: [...shape], data: initValues(n, t.node.attrs.init, Rng.forName(seed, name)) });
    }
    return this;
  }

  get(name: string): ParamEntry {
    const v = this.values.get(name);
    if (!v) throw new Error(`no parameter "${name}" in the store (have: ${[...this.values.keys()].slice(0, 8).join(", ")}...)`);
    return v;
  }

  set(name: string, shape: number[], data: Float32Array): void {
    this.values.set(name, { shape, data });
  }

  host(name: string): HostTensor {
    const v = this.get(name);
    return { dtype: "float32", shape: v.shape, data: v.data };
  }

  /** Total number of scalar parameters. */
  count(): number {
    let n = 0;
    for (const v of this.values.values()) n += v.data.length;
    return n;
  }
}

/**
 * The store's parameters as safetensors entries: float32, or float16 for shipped models (half
 * the bytes; loading widens them back, so the model computes exactly as the rounded weights say).
 * `include` picks which parameters are written (default: all).
 */
export function storeTensors(
  store: ParamStore,
  options: { weights?: "f32" | "f16"; include?: (name: string) => boolean } = {},
): Record<string, SafeTensor> {
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, value] of store.values) {
    if (options.include && !options.include(name)) continue;
    tensors[name] =
      options.weights === "f16"
        ? { dtype: "F16", shape: value.shape, data: float32ToFloat16(value.data) }
        : { dtype: "F32", shape: value.shape, data: value.data };
  }
  return tensors;
}
