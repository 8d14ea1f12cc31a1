// QLoRA's frozen base on the host (Dettmers et al.): every weight matrix the graph reads as
// NF4 (its inputs named by nn/lora.ts's nf4InputNames) is quantized once from the float32
// base, blocks of 64, optionally with the block scales double-quantized, and fed to every
// step as it is. The same codes dequantized give the float32 model the adapter was trained
// against (what held-out evaluation and merging use).

import { dequantizeAbsmax, dequantizeNf4, type Graph, nf4Sizes, quantizeAbsmax, quantizeNf4 } from "../graph/index.js";
import { nf4InputNames, type QuantizedBase } from "../nn/index.js";
import { type HostTensor, ParamStore } from "../runtime/index.js";

/** QLoRA's defaults: NF4 in blocks of 64, block scales double-quantized. */
export const defaultQuantizedBase: QuantizedBase = { blockSize: 64, doubleQuant: true };

const CODES = /\.(nf4|nf4_t)$/;

/** x [..., a, b] -> [..., b, a] (flat row-major). */
function swapLastAxes(data: Float32Array, shape: readonly number[]): Float32Array {
  const a = shape[shape.length - 2];
  const b = shape[shape.length - 1];
  const out = new Float32Array(data.length);
  for (let m = 0; m < data.length; m += a * b) {
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[m + j * a + i] = data[m + i * b + j];
  }
  return out;
}

export interface QuantizedBaseFeeds {
  /** The graph's NF4 inputs: codes and block scales. */
  feeds: Record<string, HostTensor>;
  /** The base parameters stored as NF4 (our names). */
  quantized: string[];
  /**
   * The base as the step sees it: the float32 values the codes stand for (stored layout), the
   * other parameters as they were (for evaluation and merging). Built on call: until then only
   * the codes are held.
   */
  dequantize(): ParamStore;
  /** Stored bits per base parameter: NF4 ones with their scales, the rest (norms, biases) float32. */
  bitsPerParam: number;
}

/**
 * Quantize the base weights `graph` reads as NF4 from `base` (float32). `release` drops each
 * quantized weight from `base` once its codes are made (as a 4-bit load keeps no float32 copy).
 */
export function quantizeBase(graph: Graph, base: ParamStore, qb: QuantizedBase, release = false): QuantizedBaseFeeds {
  const feeds: Record<string, HostTensor> = {};
  const quantized: string[] = [];
  const rebuild: (() => [string, number[], Float32Array])[] = [];
  let bits = 0;
  let quantizedCount = 0;
  for (const input of graph.inputs.keys()) {
    const match = CODES.exec(input);
    if (!match) continue;
    const param = input.slice(0, match.index);
    const transposed = match[1] === "nf4_t";
    const entry = base.get(param);
    const stored = transposed ? swapLastAxes(entry.data, entry.shape) : entry.data;
    const q = quantizeNf4(stored, qb.blockSize);
    const names = nf4InputNames(param, transposed);
    feeds[names.codes] = { dtype: "uint8", shape: [q.packed.length], data: q.packed };
    let absmax = q.absmax;
    const { blocks } = nf4Sizes(q.numel, qb.blockSize);
    if (qb.doubleQuant) {
      const dq = quantizeAbsmax(q.absmax);
      feeds[names.absmaxQ] = { dtype: "uint8", shape: [blocks], data: dq.absmaxQ };
      feeds[names.absmaxScale] = { dtype: "float32", shape: [dq.absmaxScale.length], data: dq.absmaxScale };
      feeds[names.absmaxOffset] = { dtype: "float32", shape: [], data: Float32Array.of(dq.absmaxOffset) };
      absmax = dequantizeAbsmax(dq);
      bits += 8 * q.packed.length + 8 * blocks + 32 * dq.absmaxScale.length + 32;
    } else {
      feeds[names.absmax] = { dtype: "float32", shape: [blocks], data: q.absmax };
      bits += 8 * q.packed.length + 32 * blocks;
    }
    const shape = [...entry.shape];
    const fedShape = transposed ? [...shape.slice(0, -2), shape.at(-1)!, shape.at(-2)!] : shape;
    const scales = absmax;
    rebuild.push(() => {
      const values = dequantizeNf4({ ...q, absmax: scales });
      return [param, shape, transposed ? swapLastAxes(values, fedShape) : values];
    });
    // Only the codes stay: q.absmax is not kept where double quantization replaced it.
    if (qb.doubleQuant) q.absmax = new Float32Array(0);
    quantized.push(param);
    quantizedCount += q.numel;
    if (release) base.values.delete(param);
  }
  if (quantized.length === 0)
    throw new Error("quantizeBase: the graph reads no NF4 weights (is its LoRA plan's quantizedBase set?)");
  // The base: what the store holds except the graph's trainable parameters (the LoRA updates).
  const trained = new Set(graph.trainableParams().map((p) => (p.node.op === "param" ? p.node.attrs.name : "")));
  const rest = [...base.values].filter(([name]) => !quantized.includes(name) && !trained.has(name));
  const dequantize = () => {
    const store = new ParamStore();
    for (const [name, entry] of rest) store.values.set(name, entry);
    for (const r of rebuild) store.set(...r());
    return store;
  };
  const total = quantizedCount + rest.reduce((n, [, entry]) => n + entry.data.length, 0);
  return { feeds, quantized, dequantize, bitsPerParam: (bits + 32 * (total - quantizedCount)) / total };
}
