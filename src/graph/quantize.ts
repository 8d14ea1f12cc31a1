// The INT8 graph pass: rewrites an inference graph so that large weight matmuls become
// DynamicQuantizeMatMul (int8 weights, per-output-channel scales, activations quantized
// per call) and fused MoE blocks run 8-bit experts, either as ONNX Runtime's QMoE or as
// "gather" (below). Everything else is copied as it is. The result is a new graph; the
// original is untouched.
//
// Why two MoE forms: on a CPU, QMoE computes in float from dequantized weights, so each
// token still reads 4 bytes per expert weight. The gather form reads the chosen experts'
// int8 weights (1 byte each) and multiplies them with integer kernels: faster for a few
// tokens (decoding), but it copies every chosen expert's weights once per token, so QMoE
// wins from a dozen or two tokens on (prefill). bench/moe-dispatch.ts measures both.

import { readFileSync } from "node:fs";
import { type AnyNode, Graph, nodesFor, type Tensor } from "./graph.js";
import * as op from "./ops.js";

export interface QuantizeOptions {
  /** Float32 values of a parameter. */
  paramValue: (name: string) => Float32Array;
  /** Weights with fewer elements stay float (quantizing tiny matrices saves nothing). */
  minElements?: number;
  /** How MoE blocks run their 8-bit experts (see the top of this file); "qmoe" by default. */
  moe?: "qmoe" | "gather";
}

export interface QuantizeReport {
  matmuls: number;
  moeBlocks: number;
  /** Bytes of weights before and after (quantized tensors only). */
  floatBytes: number;
  int8Bytes: number;
}

/**
 * The largest int8 weight the integer kernels multiply without overflow on this CPU. ONNX
 * Runtime multiplies uint8 activations by int8 weights; x86 CPUs without VNNI do it with
 * VPMADDUBSW, which adds two products into an int16 and saturates: 255 · 127 · 2 > 32767.
 * There the weights keep 7 bits (|q| ≤ 63: 255 · 63 · 2 < 32767), as ONNX Runtime's own
 * quantizer does with `reduce_range`; CPUs with VNNI (or ARM's dot products) keep all 8.
 */
export const INT8_WEIGHT_MAX: number = (() => {
  if (process.arch !== "x64") return 127;
  try {
    const flags = readFileSync("/proc/cpuinfo", "utf8");
    return /\b(avx512_vnni|avx_vnni)\b/.test(flags) ? 127 : 63;
  } catch {
    return 63; // unknown x86: the range no kernel saturates on
  }
})();

/** Symmetric int8 per column: w [K, N] -> q [K, N], scale [N] with w ~ q * scale, |q| ≤ qMax. */
export function quantizeColumns(
  w: Float32Array,
  k: number,
  n: number,
  qMax: number = INT8_WEIGHT_MAX,
): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) scale[c] = Math.max(scale[c], Math.abs(w[r * n + c]));
  for (let c = 0; c < n; c++) scale[c] = scale[c] / qMax || 1;
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; r++)
    for (let c = 0; c < n; c++) q[r * n + c] = Math.max(-qMax, Math.min(qMax, Math.round(w[r * n + c] / scale[c])));
  return { q, scale };
}

/** 8-bit rows for QMoE: w [R, C] -> q uint8 [R, C] (zero point 128), scale [R]. */
export function quantizeRowsUint8(w: Float32Array, rows: number, cols: number): { q: Uint8Array; scale: Float32Array } {
  const scale = new Float32Array(rows);
  const q = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(w[r * cols + c]));
    scale[r] = m / 127 || 1;
    for (let c = 0; c < cols; c++) q[r * cols + c] = 128 + Math.max(-127, Math.min(127, Math.round(w[r * cols + c] / scale[r])));
  }
  return { q, scale };
}

/** Symmetric int8 per (matrix, column) of a stack w [E, K, N]: q [E, K, N], scale [E, 1, N]. */
function quantizeStackColumns(w: Float32Array, e: number, k: number, n: number): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(e * k * n);
  const scale = new Float32Array(e * n);
  for (let i = 0; i < e; i++) {
    const part = quantizeColumns(w.subarray(i * k * n, (i + 1) * k * n), k, n);
    q.set(part.q, i * k * n);
    scale.set(part.scale, i * n);
  }
  return { q, scale };
}

/**
 * Expert weights in the layout the gather form multiplies with: fc1 [E, 2H, C] (rows gate_0,
 * up_0, gate_1, ...) -> [E, C, 2H] with the H gate columns first, then the H up columns;
 * fc2 [E, C, H] -> [E, H, C].
 */
function expertMatrices(fc1: Float32Array, fc2: Float32Array, e: number, h: number, c: number) {
  const up = new Float32Array(e * c * 2 * h);
  const down = new Float32Array(e * h * c);
  for (let i = 0; i < e; i++) {
    for (let j = 0; j < h; j++) {
      for (let col = 0; col < c; col++) {
        up[(i * c + col) * 2 * h + j] = fc1[(i * 2 * h + 2 * j) * c + col];
        up[(i * c + col) * 2 * h + h + j] = fc1[(i * 2 * h + 2 * j + 1) * c + col];
        down[(i * h + j) * c + col] = fc2[(i * c + col) * h + j];
      }
    }
  }
  return { up, down };
}

/**
 * moeSwiGlu with each chosen expert's int8 weights gathered per (token, k) and multiplied with
 * integer kernels. x [N, C], indices [N, K], weights [N, K] -> [N, C].
 */
function gatherInt8Experts(
  g: Graph,
  x: Tensor,
  indices: Tensor,
  weights: Tensor,
  fc1: Float32Array,
  fc2: Float32Array,
  shape: { e: number; h: number; c: number },
): Tensor {
  const { e, h, c } = shape;
  const k = indices.shape[1] as number;
  const { up, down } = expertMatrices(fc1, fc2, e, h, c);
  const q1 = quantizeStackColumns(up, e, c, 2 * h);
  const q2 = quantizeStackColumns(down, e, h, c);
  const n = x.shape[0];
  const chosen = op.reshape(indices, [-1]); // [NK]
  const rows = op.reshape(op.expand(op.unsqueeze(x, 1), [n, k, c]), [-1, 1, c]); // [N, C] -> [NK, 1, C]
  const matmulInt8 = (a: Tensor, q: Int8Array, scale: Float32Array, kDim: number, nDim: number): Tensor => {
    const w = op.gather(op.constant(g, q, [e, kDim, nDim]), chosen, 0); // [NK, kDim, nDim]
    const s = op.gather(op.constant(g, scale, [e, 1, nDim]), chosen, 0); // [NK, 1, nDim]
    const aq = op.dynamicQuantizeLinear(a);
    return op.matMulIntegerToFloat(aq.q, w, aq.scale, s, aq.zeroPoint);
  };
  const gateUp = matmulInt8(rows, q1.q, q1.scale, c, 2 * h); // [NK, 1, 2H]
  const hidden = op.mul(op.silu(op.slice(gateUp, 2, 0, h)), op.slice(gateUp, 2, h, 2 * h)); // [NK, 1, H]
  const out = op.mul(matmulInt8(hidden, q2.q, q2.scale, h, c), op.reshape(weights, [-1, 1, 1])); // [NK, 1, C]
  return op.reduceSum(op.reshape(out, [n, k, c]), 1); // [N, C]
}

function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

/** The parameter behind a matmul's right operand: W itself, or W^T of a 2-D W (a tied LM head). */
function weightOf(t: Tensor): { name: string; transposed: boolean } | null {
  if (t.node.op === "param" && t.rank === 2) return { name: t.node.attrs.name, transposed: false };
  if (t.node.op === "transpose" && t.rank === 2) {
    const src = t.node.inputs[0];
    if (src.node.op === "param") return { name: src.node.attrs.name, transposed: true };
  }
  return null;
}

/** Weights with fewer elements stay float by default. */
const MIN_ELEMENTS = 4096;

/** The weight of a matmul node the pass quantizes, with its [K, N]; null if it stays float. */
function quantizableWeight(
  node: AnyNode,
  minElements: number,
): { name: string; transposed: boolean; k: number; n: number } | null {
  if (node.op !== "matmul" || node.inputs[1].dtype !== "float32") return null;
  const w = weightOf(node.inputs[1]);
  const [k, n] = node.inputs[1].shape as number[];
  return w && k * n >= minElements ? { ...w, k, n } : null;
}

/**
 * What the pass would quantize in a graph: the [K, N] of each weight matmul (one entry per
 * node) and the [E, 2H, C] expert stack of each MoE block (bench/int8-matmul.ts times them).
 */
export function quantizableWeights(
  outputs: readonly Tensor[],
  minElements = MIN_ELEMENTS,
): { matmuls: { k: number; n: number }[]; moeBlocks: { experts: number; hidden: number; dim: number }[] } {
  const matmuls: { k: number; n: number }[] = [];
  const moeBlocks: { experts: number; hidden: number; dim: number }[] = [];
  for (const node of nodesFor(outputs)) {
    const w = quantizableWeight(node, minElements);
    if (w) matmuls.push({ k: w.k, n: w.n });
    if (node.op === "moeSwiGlu") {
      const [e, twoH, c] = node.inputs[3].shape as number[];
      moeBlocks.push({ experts: e, hidden: twoH / 2, dim: c });
    }
  }
  return { matmuls, moeBlocks };
}

export function quantizeInt8(
  outputs: Record<string, Tensor>,
  options: QuantizeOptions,
): { outputs: Record<string, Tensor>; report: QuantizeReport } {
  const minElements = options.minElements ?? MIN_ELEMENTS;
  const g = new Graph();
  const map = new Map<number, Tensor>();
  const report: QuantizeReport = { matmuls: 0, moeBlocks: 0, floatBytes: 0, int8Bytes: 0 };
  const copy = (node: AnyNode, ins: Tensor[]): Tensor[] => {
    switch (node.op) {
      case "input":
        return [g.input(node.attrs.name, node.outputs[0].dtype, node.outputs[0].shape)];
      case "param":
        return [
          g.param(node.attrs.name, node.outputs[0].shape as number[], node.attrs.init, {
            trainable: node.attrs.trainable,
            dtype: node.outputs[0].dtype,
          }),
        ];
      default:
        return g.addNode(
          node.op,
          node.attrs,
          ins,
          node.outputs.map((t) => ({ dtype: t.dtype, shape: t.shape })),
        );
    }
  };
  for (const node of nodesFor(Object.values(outputs))) {
    const ins = node.inputs.map((t) => map.get(t.id)!);
    let outs: Tensor[] | null = null;
    const w = quantizableWeight(node, minElements);
    if (w) {
      const { k, n } = w;
      const values = options.paramValue(w.name);
      const { q, scale } = quantizeColumns(w.transposed ? transpose2d(values, n, k) : values, k, n);
      outs = [op.dynamicQuantizeMatMul(ins[0], op.constant(g, q, [k, n]), op.constant(g, scale, [n]))];
      report.matmuls++;
      report.floatBytes += 4 * k * n;
      report.int8Bytes += k * n + 4 * n;
    } else if (node.op === "moeSwiGlu") {
      const [x, indices, weights, fc1] = ins;
      const [fc1Source, fc2Source] = [node.inputs[3], node.inputs[4]];
      if (fc1Source.node.op === "param" && fc2Source.node.op === "param") {
        const [e, twoH, c] = fc1.shape as number[];
        const h = twoH / 2;
        const f1 = options.paramValue(fc1Source.node.attrs.name);
        const f2 = options.paramValue(fc2Source.node.attrs.name);
        if (options.moe === "gather") {
          outs = [gatherInt8Experts(g, x, indices, weights, f1, f2, { e, h, c })];
        } else {
          const q1 = quantizeRowsUint8(f1, e * twoH, c);
          const q2 = quantizeRowsUint8(f2, e * c, h);
          outs = [
            op.qmoeSwiGlu(
              x,
              indices,
              weights,
              op.constant(g, q1.q, [e, twoH, c], "uint8"),
              op.constant(g, q1.scale, [e, twoH]),
              op.constant(g, q2.q, [e, c, h], "uint8"),
              op.constant(g, q2.scale, [e, c]),
            ),
          ];
        }
        report.moeBlocks++;
        report.floatBytes += 4 * (f1.length + f2.length);
        report.int8Bytes += f1.length + f2.length + 4 * (e * twoH + e * c);
      }
    }
    outs ??= copy(node, ins);
    node.outputs.forEach((t, i) => {
      map.set(t.id, outs[i]);
    });
  }
  const result: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(outputs)) result[name] = map.get(t.id)!;
  return { outputs: result, report };
}
