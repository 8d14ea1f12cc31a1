// LoRA adapters served unmerged on one MoE LM: each adapter is kept in the layout the banked
// graph reads (Aᵀ [in, r] and (α/r) Bᵀ [r, out] per module, see nn/lora.ts), and the banks
// of the adapters a call needs are laid side by side once per set of adapters (cached), so a
// batch mixing adapters pays one base matmul plus two thin ones per targeted linear.

import { loraBankNames } from "../nn/index.js";
import type { HostTensor } from "../runtime/index.js";
import type { LoraAdapter } from "./loraAdapter.js";

/** One adapter as the banked graph reads it. */
export interface ServedAdapter {
  readonly name: string;
  readonly rank: number;
  /** Per updated module: Aᵀ [in, r] and the scaled Bᵀ [r, out]. */
  readonly modules: ReadonlyMap<string, { inDim: number; outDim: number; at: Float32Array; bt: Float32Array }>;
  /** Unique per load (a name reloaded is a new adapter). */
  readonly id: number;
}

let nextId = 1;

/** Modules an unmerged adapter may update: the decoder's linears (not the embedding, head or image projection). */
const UNBANKABLE = /(^|\.)(embed_tokens|lm_head|image_proj)$|\.mlp\.experts\.(\d+\.)?(gate|up|down)_proj$/;

/** `adapter` (checked against the base by loadLoraAdapter) as the banked graph reads it. */
export function serveAdapter(name: string, adapter: LoraAdapter): ServedAdapter {
  const { r, alpha } = adapter.config;
  const scale = alpha / r;
  const modules = new Map<string, { inDim: number; outDim: number; at: Float32Array; bt: Float32Array }>();
  for (const module of adapter.modules) {
    if (UNBANKABLE.test(module)) {
      throw new Error(
        `adapter '${name}' updates ${module}, which is served only merged into the base (aigc lora merge); unmerged adapters may update the decoder's linears (q/k/v/o_proj, dense and shared-expert gate/up/down_proj, the router's gate), not the embedding or the routed experts`,
      );
    }
    const a = adapter.adapter.get(`${module}.lora_A.weight`); // [r, in]
    const b = adapter.adapter.get(`${module}.lora_B.weight`); // [out, r]
    const inDim = a.shape[1];
    const outDim = b.shape[0];
    const at = new Float32Array(inDim * r);
    for (let k = 0; k < r; k++) for (let i = 0; i < inDim; i++) at[i * r + k] = a.data[k * inDim + i];
    const bt = new Float32Array(r * outDim);
    for (let o = 0; o < outDim; o++) for (let k = 0; k < r; k++) bt[k * outDim + o] = scale * b.data[o * r + k];
    modules.set(module, { inDim, outDim, at, bt });
  }
  return { name, rank: r, modules, id: nextId++ };
}

/** The banks of one set of adapters: feeds for the graph and where each adapter's columns start. */
export interface LoraBank {
  /** Banked modules, sorted (the compiled graph's signature). */
  modules: string[];
  /** R: the adapters' ranks added up. */
  width: number;
  /** First column of each adapter (by id). */
  start: Map<number, number>;
  feeds: Record<string, HostTensor>;
}

/** Lays out banks for sets of adapters, keeping the last few (a decode step reuses its set). */
export class LoraBanks {
  private readonly cache = new Map<string, LoraBank>();
  constructor(private readonly keep = 8) {}

  bank(adapters: readonly ServedAdapter[]): LoraBank {
    const key = adapters.map((a) => a.id).join(",");
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key); // most recent last
      this.cache.set(key, hit);
      return hit;
    }
    const built = layOut(adapters);
    this.cache.set(key, built);
    if (this.cache.size > this.keep) this.cache.delete(this.cache.keys().next().value!);
    return built;
  }
}

function layOut(adapters: readonly ServedAdapter[]): LoraBank {
  const start = new Map<number, number>();
  let width = 0;
  for (const a of adapters) {
    start.set(a.id, width);
    width += a.rank;
  }
  const shapes = new Map<string, { inDim: number; outDim: number }>();
  for (const a of adapters) for (const [m, u] of a.modules) shapes.set(m, u);
  const modules = [...shapes.keys()].sort();
  const feeds: Record<string, HostTensor> = {};
  for (const module of modules) {
    const { inDim, outDim } = shapes.get(module)!;
    const bankA = new Float32Array(inDim * width); // [in, R]; adapters without this module leave zeros
    const bankB = new Float32Array(width * outDim); // [R, out]
    for (const a of adapters) {
      const u = a.modules.get(module);
      if (!u) continue;
      const c = start.get(a.id)!;
      for (let i = 0; i < inDim; i++) bankA.set(u.at.subarray(i * a.rank, (i + 1) * a.rank), i * width + c);
      bankB.set(u.bt, c * outDim);
    }
    const names = loraBankNames(module);
    feeds[names.a] = { dtype: "float32", shape: [inDim, width], data: bankA };
    feeds[names.b] = { dtype: "float32", shape: [width, outDim], data: bankB };
  }
  return { modules, width, start, feeds };
}
