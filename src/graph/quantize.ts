// The INT8 graph pass: rewrites an inference graph so that large weight matmuls become
// DynamicQuantizeMatMul (int8 weights, per-output-channel scales, activations quantized
// per call) and fused MoE blocks become QMoE with 8-bit experts. Everything else is
// copied as it is. The result is a new graph; the original is untouched.

import { type AnyNode, Graph, nodesFor, type Tensor } from "./graph.js";
import * as op from "./ops.js";

export interface QuantizeOptions {
  /** Float32 values of a parameter. */
  paramValue: (name: string) => Float32Array;
  /** Weights with fewer elements stay float (quantizing tiny matrices saves nothing). */
  minElements?: number;
}

export interface QuantizeReport {
  matmuls: number;
  moeBlocks: number;
  /** Bytes of weights before and after (quantized tensors only). */
  floatBytes: number;
  int8Bytes: number;
}

/** Symmetric int8 per column: w [K, N] -> q [K, N], scale [N] with w ~ q * scale. */
export function quantizeColumns(w: Float32Array, k: number, n: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) scale[c] = Math.max(scale[c], Math.abs(w[r * n + c]));
  for (let c = 0; c < n; c++) scale[c] = scale[c] / 127 || 1;
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; r++)
    for (let c = 0; c < n; c++) q[r * n + c] = Math.max(-127, Math.min(127, Math.round(w[r * n + c] / scale[c])));
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

export function quantizeInt8(
  outputs: Record<string, Tensor>,
  o: QuantizeOptions,
): { outputs: Record<string, Tensor>; report: QuantizeReport } {
  const minElements = o.minElements ?? 4096;
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
    if (node.op === "matmul" && node.inputs[1].dtype === "float32") {
      const w = weightOf(node.inputs[1]);
      const [k, n] = node.inputs[1].shape as number[];
      if (w && k * n >= minElements) {
        const values = o.paramValue(w.name);
        const { q, scale } = quantizeColumns(w.transposed ? transpose2d(values, n, k) : values, k, n);
        outs = [op.dynamicQuantizeMatMul(ins[0], op.constant(g, q, [k, n]), op.constant(g, scale, [n]))];
        report.matmuls++;
        report.floatBytes += 4 * k * n;
        report.int8Bytes += k * n + 4 * n;
      }
    } else if (node.op === "moeSwiGlu") {
      const [, , fc1, fc2] = node.inputs;
      if (fc1.node.op === "param" && fc2.node.op === "param") {
        const [e, twoH, c] = fc1.shape as number[];
        const h = twoH / 2;
        const q1 = quantizeRowsUint8(o.paramValue(fc1.node.attrs.name), e * twoH, c);
        const q2 = quantizeRowsUint8(o.paramValue(fc2.node.attrs.name), e * c, h);
        outs = [
          op.qmoeSwiGlu(
            ins[0],
            ins[1],
            op.constant(g, q1.q, [e, twoH, c], "uint8"),
            op.constant(g, q1.scale, [e, twoH]),
            op.constant(g, q2.q, [e, c, h], "uint8"),
            op.constant(g, q2.scale, [e, c]),
            node.attrs.k,
          ),
        ];
        report.moeBlocks++;
        report.floatBytes += 4 * (e * twoH * c + e * c * h);
        report.int8Bytes += e * twoH * c + e * c * h + 4 * (e * twoH + e * c);
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
