// Every gradient rule against central finite differences, end to end (grad -> toOnnx ->
// ONNX Runtime), in float64 wherever ONNX Runtime's CPU kernels take doubles; plus the
// semantics of `grad` itself (what gets differentiated, what is left alone).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  dequantizeNf4,
  differentiableOps,
  Graph,
  grad,
  op,
  type PrimOp,
  quantizeNf4,
  type Tensor,
  toOnnx,
  vjpRules,
} from "../../src/graph/index.js";
import { compile } from "../../src/runtime/session.js";
import {
  awayFromZero,
  type Builder,
  distinct,
  formatReport,
  type GradcheckOptions,
  type GradInput,
  gradcheck,
  indices,
  randn,
  uniform,
} from "../helpers/gradcheck.js";

interface GradCase {
  /** Primitive ops whose VJP rule this case checks; each must occur in the forward graph. */
  ops: PrimOp[];
  build: Builder;
  inputs: GradInput[];
  opts?: GradcheckOptions;
}

let seed = 1;
const inp = (label: string, shape: number[], values?: number[]): GradInput => ({
  label,
  shape,
  data: values ?? randn(shape, seed++),
});
const positive = (label: string, shape: number[], low = 0.5, high = 2): GradInput =>
  inp(label, shape, uniform(shape, low, high, seed++));
const nonZero = (label: string, shape: number[], low = 0.1, high = 1): GradInput =>
  inp(label, shape, awayFromZero(shape, seed++, low, high));
const spread = (label: string, shape: number[]): GradInput => inp(label, shape, distinct(shape, seed++));

/** Bool constant from 0/1 values. */
const mask = (g: Graph, values: number[], shape: number[]): Tensor => op.constant(g, Uint8Array.from(values), shape);

/** Conv and ConvTranspose have no double kernels in ONNX Runtime's CPU provider: float32, looser tolerance. */
const conv32: GradcheckOptions = { dtype: "float32", eps: 1e-2, rtol: 1e-2, atol: 1e-3 };

const cases: Record<string, GradCase> = {
  // ------------------------------------------------------------ 4-bit NF4 weights (QLoRA's frozen base)
  "matmulBnb4 x [2,3,32] @ NF4 W [6,32]^T (float32)": (() => {
    const q = quantizeNf4(Float32Array.from(randn([6 * 32], 77, 0.1)), 16);
    const dense = dequantizeNf4(q); // [6, 32]
    return {
      ops: ["matmulBnb4"] as PrimOp[],
      build: (g: Graph, [x]: Tensor[]) =>
        op.matmulBnb4(x, op.constant(g, q.packed, [q.packed.length], "uint8"), op.constant(g, q.absmax, [q.absmax.length]), {
          k: 32,
          n: 6,
          blockSize: 16,
        }),
      inputs: [inp("x", [2, 3, 32])],
      opts: {
        dtype: "float32" as const,
        eps: 1e-2,
        rtol: 1e-3,
        atol: 1e-4,
        reference: (g: Graph, [x]: Tensor[]) => op.matmul(x, op.transposeLast(op.constant(g, dense, [6, 32]))),
      },
    };
  })(),
  // ------------------------------------------------------------ binary, broadcasting
  "add [3,1,5] + [4,1]": { ops: ["add"], build: (_, [a, b]) => op.add(a, b), inputs: [inp("a", [3, 1, 5]), inp("b", [4, 1])] },
  "add scalar tensor + [2,3]": { ops: ["add"], build: (_, [a, b]) => op.add(a, b), inputs: [inp("a", []), inp("b", [2, 3])] },
  "add [2,3] + JS number": { ops: ["add"], build: (_, [a]) => op.add(a, 2.5), inputs: [inp("a", [2, 3])] },
  "sub [2,3] - [3]": { ops: ["sub"], build: (_, [a, b]) => op.sub(a, b), inputs: [inp("a", [2, 3]), inp("b", [3])] },
  "sub [1] - [2,1,3]": { ops: ["sub"], build: (_, [a, b]) => op.sub(a, b), inputs: [inp("a", [1]), inp("b", [2, 1, 3])] },
  "sub JS number - [3,2]": { ops: ["sub"], build: (_, [b]) => op.sub(1, b), inputs: [inp("b", [3, 2])] },
  "mul [3,1,5] * [4,1]": { ops: ["mul"], build: (_, [a, b]) => op.mul(a, b), inputs: [inp("a", [3, 1, 5]), inp("b", [4, 1])] },
  "mul scalar tensor * [2,3]": { ops: ["mul"], build: (_, [a, b]) => op.mul(a, b), inputs: [inp("a", []), inp("b", [2, 3])] },
  "div [2,1,3] / [3,1]": {
    ops: ["div"],
    build: (_, [a, b]) => op.div(a, b),
    inputs: [inp("a", [2, 1, 3]), nonZero("b", [3, 1], 0.5, 1.5)],
  },
  "div JS number / [5]": { ops: ["div"], build: (_, [b]) => op.div(2, b), inputs: [nonZero("b", [5], 0.5, 1.5)] },
  "pow positive [2,3] ^ [3]": {
    ops: ["pow"],
    build: (_, [a, b]) => op.pow(a, b),
    inputs: [positive("base", [2, 3]), inp("exponent", [3], uniform([3], -1.5, 2.5, 99))],
  },
  "pow [3,1] ^ scalar tensor": {
    ops: ["pow"],
    build: (_, [a, b]) => op.pow(a, b),
    inputs: [positive("base", [3, 1]), inp("exponent", [], [1.7])],
  },
  "pow x ^ 3 (any sign)": { ops: ["pow"], build: (_, [a]) => op.pow(a, 3), inputs: [inp("x", [2, 3])] },
  "pow 2 ^ x": { ops: ["pow"], build: (_, [x]) => op.pow(2, x), inputs: [inp("x", [4])] },

  // ------------------------------------------------------------ unary
  neg: { ops: ["neg"], build: (_, [x]) => op.neg(x), inputs: [inp("x", [2, 3])] },
  exp: { ops: ["exp"], build: (_, [x]) => op.exp(x), inputs: [inp("x", [3, 1, 2])] },
  "log (positive)": { ops: ["log"], build: (_, [x]) => op.log(x), inputs: [positive("x", [2, 3], 0.3, 3)] },
  "sqrt (positive)": { ops: ["sqrt"], build: (_, [x]) => op.sqrt(x), inputs: [positive("x", [5], 0.3, 3)] },
  tanh: { ops: ["tanh"], build: (_, [x]) => op.tanh(x), inputs: [inp("x", [2, 3], randn([6], 7, 2))] },
  sigmoid: { ops: ["sigmoid"], build: (_, [x]) => op.sigmoid(x), inputs: [inp("x", [3, 2], randn([6], 8, 3))] },
  "relu (inputs away from 0)": { ops: ["relu"], build: (_, [x]) => op.relu(x), inputs: [nonZero("x", [3, 5])] },
  "where [3,1] cond, [3,4] / [4] branches": {
    ops: ["where"],
    build: (g, [a, b]) => op.where(mask(g, [1, 0, 1], [3, 1]), a, b),
    inputs: [inp("a", [3, 4]), inp("b", [4])],
  },
  "where [2,3] cond, [3] / JS number": {
    ops: ["where"],
    build: (g, [a]) => op.where(mask(g, [1, 0, 0, 1, 1, 0], [2, 3]), a, -0.5),
    inputs: [inp("a", [3])],
  },
  "cast float32 -> float64": {
    // float32 inputs (so the cast has something to do); everything after the cast is float64
    ops: ["cast"],
    build: (_, [x]) => op.tanh(op.cast(x, "float64")),
    inputs: [inp("x", [2, 3])],
    opts: { dtype: "float32", eps: 1e-2, rtol: 1e-3, atol: 1e-5 },
  },
  "cast float64 -> float32 -> float64": {
    ops: ["cast"],
    build: (_, [x]) => op.cast(op.mul(op.cast(x, "float32"), 3), "float64"),
    inputs: [inp("x", [3])],
    // the float32 hop rounds at ~1e-7 relative; a wide step keeps that out of the difference
    opts: { eps: 1e-2, rtol: 1e-4, atol: 1e-5 },
  },

  // ------------------------------------------------------------ customVjp
  "customVjp with the exact vjp": {
    ops: ["customVjp", "stopGradient"],
    build: (_, [x]) => op.customVjp(op.stopGradient(op.exp(x)), [x], (d) => [op.mul(d, op.exp(x))]),
    inputs: [inp("x", [2, 3])],
  },
  "customVjp straight-through: hard step forward, sigmoid gradient": {
    // Forward is a 0/1 step (flat almost everywhere), the gradient is the soft path's:
    // compared with finite differences of sigmoid(3x) itself.
    ops: ["customVjp", "stopGradient"],
    build: (_, [x]) => {
      const soft = op.sigmoid(op.mul(x, 3));
      const hard = op.cast(op.greater(soft, 0.5), "float64");
      return op.customVjp(op.stopGradient(hard), [soft], (d) => [d]);
    },
    inputs: [nonZero("x", [2, 4])],
    opts: { reference: (_, [x]) => op.sigmoid(op.mul(x, 3)) },
  },

  // ------------------------------------------------------------ contractions, normalisers
  "matmul [2,3] @ [3,4]": {
    ops: ["matmul"],
    build: (_, [a, b]) => op.matmul(a, b),
    inputs: [inp("a", [2, 3]), inp("b", [3, 4])],
  },
  "matmul batch broadcast [2,1,3,4] @ [3,4,2]": {
    ops: ["matmul"],
    build: (_, [a, b]) => op.matmul(a, b),
    inputs: [inp("a", [2, 1, 3, 4]), inp("b", [3, 4, 2])],
  },
  "matmul [2,3,4] @ [4,5] (batch folded into M)": {
    ops: ["matmul"],
    build: (_, [a, b]) => op.matmul(a, b),
    inputs: [inp("a", [2, 3, 4]), inp("b", [4, 5])],
  },
  "matmul [3,4] @ [2,4,2]": {
    ops: ["matmul"],
    build: (_, [a, b]) => op.matmul(a, b),
    inputs: [inp("a", [3, 4]), inp("b", [2, 4, 2])],
  },
  "softmax axis -1": { ops: ["softmax"], build: (_, [x]) => op.softmax(x, -1), inputs: [inp("x", [3, 4], randn([12], 11, 2))] },
  "softmax axis 1 of [3,2,4]": {
    ops: ["softmax"],
    build: (_, [x]) => op.softmax(x, 1),
    inputs: [inp("x", [3, 2, 4], randn([24], 12, 2))],
  },
  "logSoftmax axis 0": {
    ops: ["logSoftmax"],
    build: (_, [x]) => op.logSoftmax(x, 0),
    inputs: [inp("x", [3, 4], randn([12], 13, 2))],
  },
  "logSoftmax axis 1 of [2,3,4]": {
    ops: ["logSoftmax"],
    build: (_, [x]) => op.logSoftmax(x, 1),
    inputs: [inp("x", [2, 3, 4], randn([24], 14, 2))],
  },
  "reduceSum axes [0,2] of [3,2,4]": {
    ops: ["reduceSum"],
    build: (_, [x]) => op.reduceSum(x, [0, 2]),
    inputs: [inp("x", [3, 2, 4])],
  },
  "reduceSum axis -2 keepDims": {
    ops: ["reduceSum"],
    build: (_, [x]) => op.reduceSum(x, -2, true),
    inputs: [inp("x", [2, 3, 2])],
  },
  "reduceSum all axes": { ops: ["reduceSum"], build: (_, [x]) => op.reduceSum(x), inputs: [inp("x", [3, 5])] },
  "reduceMean axis 1 of [3,4,2]": { ops: ["reduceMean"], build: (_, [x]) => op.reduceMean(x, 1), inputs: [inp("x", [3, 4, 2])] },
  "reduceMean axes [0,2] keepDims": {
    ops: ["reduceMean"],
    build: (_, [x]) => op.reduceMean(x, [0, 2], true),
    inputs: [inp("x", [2, 3, 3])],
  },
  "reduceMax axis 1 (distinct values)": {
    ops: ["reduceMax"],
    build: (_, [x]) => op.reduceMax(x, 1),
    inputs: [spread("x", [3, 4])],
  },
  "reduceMax axes [0,2] keepDims (distinct values)": {
    ops: ["reduceMax"],
    build: (_, [x]) => op.reduceMax(x, [0, 2], true),
    inputs: [spread("x", [2, 3, 4])],
  },
  "cumSum axis 1": { ops: ["cumSum"], build: (_, [x]) => op.cumSum(x, 1), inputs: [inp("x", [3, 4])] },
  "cumSum axis 0 exclusive": {
    ops: ["cumSum"],
    build: (_, [x]) => op.cumSum(x, 0, { exclusive: true }),
    inputs: [inp("x", [4, 3])],
  },
  "cumSum axis -1 reverse": {
    ops: ["cumSum"],
    build: (_, [x]) => op.cumSum(x, -1, { reverse: true }),
    inputs: [inp("x", [2, 5])],
  },
  "cumSum axis 1 exclusive reverse": {
    ops: ["cumSum"],
    build: (_, [x]) => op.cumSum(x, 1, { exclusive: true, reverse: true }),
    inputs: [inp("x", [2, 4, 2])],
  },
  "topK k=2 largest, last axis": { ops: ["topK"], build: (_, [x]) => op.topK(x, 2).values, inputs: [spread("x", [3, 6])] },
  "topK k=3 smallest, axis 0": {
    ops: ["topK"],
    build: (_, [x]) => op.topK(x, 3, 0, false).values,
    inputs: [spread("x", [5, 3])],
  },

  // ------------------------------------------------------------ convolutions (float32, see conv32)
  "conv2d 3x3, stride 1, no padding": {
    ops: ["conv2d"],
    build: (_, [x, w]) => op.conv2d(x, w),
    inputs: [inp("x", [1, 2, 5, 5]), inp("w", [3, 2, 3, 3])],
    opts: conv32,
  },
  "conv2d 2x3 kernel, stride 2, pads [1,0,1,1], rows left over": {
    ops: ["conv2d"],
    build: (_, [x, w]) => op.conv2d(x, w, { stride: 2, padding: [1, 0, 1, 1] }),
    inputs: [inp("x", [2, 2, 6, 7]), inp("w", [3, 2, 2, 3])],
    opts: conv32,
  },
  "conv2d 3x2 kernel, stride [2,1], dilation [1,2], padding 2": {
    ops: ["conv2d"],
    build: (_, [x, w]) => op.conv2d(x, w, { stride: [2, 1], dilation: [1, 2], padding: 2 }),
    inputs: [inp("x", [1, 3, 5, 4]), inp("w", [2, 3, 3, 2])],
    opts: conv32,
  },
  "conv2d 2x3 kernel, stride 2 and dilation 2 on both axes, padding 1": {
    ops: ["conv2d"],
    build: (_, [x, w]) => op.conv2d(x, w, { stride: 2, dilation: 2, padding: 1 }),
    inputs: [inp("x", [1, 2, 8, 7]), inp("w", [2, 2, 2, 3])],
    opts: conv32,
  },
  "convTranspose2d 3x3, stride 1": {
    ops: ["convTranspose2d"],
    build: (_, [x, w]) => op.convTranspose2d(x, w),
    inputs: [inp("x", [1, 2, 3, 4]), inp("w", [2, 3, 3, 3])],
    opts: conv32,
  },
  "convTranspose2d 2x3 kernel, stride 2, padding 1, outputPadding [1,0]": {
    ops: ["convTranspose2d"],
    build: (_, [x, w]) => op.convTranspose2d(x, w, { stride: 2, padding: 1, outputPadding: [1, 0] }),
    inputs: [inp("x", [2, 2, 3, 3]), inp("w", [2, 2, 2, 3])],
    opts: conv32,
  },
  "convTranspose2d 2x3 kernel, stride 2 and dilation 2, pads [0,1,1,0], outputPadding [1,1]": {
    ops: ["convTranspose2d"],
    build: (_, [x, w]) => op.convTranspose2d(x, w, { stride: 2, dilation: 2, padding: [0, 1, 1, 0], outputPadding: [1, 1] }),
    inputs: [inp("x", [1, 2, 3, 3]), inp("w", [2, 1, 2, 3])],
    opts: conv32,
  },
  "convTranspose2d 3x2 kernel, stride [1,2], dilation 2, pads [1,0,0,1]": {
    ops: ["convTranspose2d"],
    build: (_, [x, w]) => op.convTranspose2d(x, w, { stride: [1, 2], dilation: 2, padding: [1, 0, 0, 1] }),
    inputs: [inp("x", [1, 3, 3, 2]), inp("w", [3, 2, 3, 2])],
    opts: conv32,
  },

  // ------------------------------------------------------------ layout
  "reshape [2,3,4] -> [4,-1]": { ops: ["reshape"], build: (_, [x]) => op.reshape(x, [4, -1]), inputs: [inp("x", [2, 3, 4])] },
  "transpose [2,3,4] perm [2,0,1]": {
    ops: ["transpose"],
    build: (_, [x]) => op.transpose(x, [2, 0, 1]),
    inputs: [inp("x", [2, 3, 4])],
  },
  "concat three along axis 1": {
    ops: ["concat"],
    build: (_, [a, b, c]) => op.concat([a, b, c], 1),
    inputs: [inp("a", [2, 1, 3]), inp("b", [2, 3, 3]), inp("c", [2, 2, 3])],
  },
  "concat along axis -1, one input used twice": {
    ops: ["concat"],
    build: (_, [a, b]) => op.concat([a, b, a], -1),
    inputs: [inp("a", [3, 2]), inp("b", [3, 1])],
  },
  "slice axis 1 [1:-1] of [3,5,2]": { ops: ["slice"], build: (_, [x]) => op.slice(x, 1, 1, -1), inputs: [inp("x", [3, 5, 2])] },
  "slice axis 0 [2:] of [4,3]": { ops: ["slice"], build: (_, [x]) => op.slice(x, 0, 2), inputs: [inp("x", [4, 3])] },
  "pad axis 0 before 2 after 1": { ops: ["pad"], build: (_, [x]) => op.pad(x, 0, 2, 1), inputs: [inp("x", [2, 3])] },
  "pad axis -1 before 0 after 3": { ops: ["pad"], build: (_, [x]) => op.pad(x, -1, 0, 3), inputs: [inp("x", [3, 1, 2])] },
  "expand [3,1] -> [2,3,4]": { ops: ["expand"], build: (_, [x]) => op.expand(x, [2, 3, 4]), inputs: [inp("x", [3, 1])] },
  "expand [] -> [2,3]": { ops: ["expand"], build: (_, [x]) => op.expand(x, [2, 3]), inputs: [inp("x", [])] },

  // ------------------------------------------------------------ indexing (duplicate indices accumulate)
  "gather axis 0, duplicate indices": {
    ops: ["gather"],
    build: (g, [x]) => op.gather(x, indices(g, [0, 2, 0, 2, 1], [5]), 0),
    inputs: [inp("x", [3, 4])],
  },
  "gather axis 1, [3,2] indices with duplicates": {
    ops: ["gather"],
    build: (g, [x]) => op.gather(x, indices(g, [1, 1, 0, 3, 3, 1], [3, 2]), 1),
    inputs: [inp("x", [2, 4, 3])],
  },
  "gather axis -1, scalar index": {
    ops: ["gather"],
    build: (g, [x]) => op.gather(x, indices(g, [2], []), -1),
    inputs: [inp("x", [2, 3, 4])],
  },
  "gather axis 0, negative and duplicate indices": {
    ops: ["gather"],
    build: (g, [x]) => op.gather(x, indices(g, [-1, 0, -1, 1], [2, 2]), 0),
    inputs: [inp("x", [3, 2])],
  },
  "gatherElements axis 1, duplicates": {
    ops: ["gatherElements"],
    build: (g, [x]) => op.gatherElements(x, indices(g, [0, 0, 3, 1, 2, 2, 2, 2, 1, 0, 3, 3, 3, 0, 1], [3, 5]), 1),
    inputs: [inp("x", [3, 4])],
  },
  "gatherElements axis 0 of [3,2,2], duplicates": {
    ops: ["gatherElements"],
    build: (g, [x]) => op.gatherElements(x, indices(g, [2, 0, 2, 1, 0, 0, 1, 2], [2, 2, 2]), 0),
    inputs: [inp("x", [3, 2, 2])],
  },
  "gatherElements axis -1, negative indices": {
    ops: ["gatherElements"],
    build: (g, [x]) => op.gatherElements(x, indices(g, [-1, 0, -1, 1, -3, -3], [2, 3]), -1),
    inputs: [inp("x", [2, 3])],
  },
  "gatherND rows of [3,4,2], duplicates": {
    ops: ["gatherND"],
    build: (g, [x]) => op.gatherND(x, indices(g, [0, 1, 2, 3, 0, 1, 1, 0], [4, 2])),
    inputs: [inp("x", [3, 4, 2])],
  },
  "gatherND whole rows, q=1": {
    ops: ["gatherND"],
    build: (g, [x]) => op.gatherND(x, indices(g, [2, 0, 2], [3, 1])),
    inputs: [inp("x", [3, 4])],
  },
  "gatherND negative indices": {
    ops: ["gatherND"],
    build: (g, [x]) => op.gatherND(x, indices(g, [-1, 0, -1, -2], [2, 2])),
    inputs: [inp("x", [3, 2, 2])],
  },
  "scatterElementsAdd axis 1, duplicates": {
    ops: ["scatterElementsAdd"],
    build: (g, [x, u]) => op.scatterElementsAdd(x, indices(g, [0, 0, 1, 3, 2, 2], [3, 2]), u, 1),
    inputs: [inp("x", [3, 4]), inp("updates", [3, 2])],
  },
  "scatterElementsAdd axis 0, duplicates": {
    ops: ["scatterElementsAdd"],
    build: (g, [x, u]) => op.scatterElementsAdd(x, indices(g, [1, 0, 1, 1, 2, 1], [2, 3]), u, 0),
    inputs: [inp("x", [3, 3]), inp("updates", [2, 3])],
  },
  "scatterNDAdd rows, duplicates": {
    ops: ["scatterNDAdd"],
    build: (g, [x, u]) => op.scatterNDAdd(x, indices(g, [1, 3, 1], [3, 1]), u),
    inputs: [inp("x", [4, 3]), inp("updates", [3, 3])],
  },
  "scatterNDAdd elements, duplicates": {
    ops: ["scatterNDAdd"],
    build: (g, [x, u]) => op.scatterNDAdd(x, indices(g, [0, 1, 2, 0, 0, 1], [3, 2]), u),
    inputs: [inp("x", [3, 2]), inp("updates", [3])],
  },

  // ------------------------------------------------------------ composites (no rule of their own)
  gelu: { ops: ["mul", "add", "pow", "tanh"], build: (_, [x]) => op.gelu(x), inputs: [inp("x", [3, 5], randn([15], 21, 3))] },
  silu: {
    // float64 works because compile() disables ONNX Runtime's float32-only QuickGeluFusion for float64 graphs.
    ops: ["mul", "sigmoid"],
    build: (_, [x]) => op.silu(x),
    inputs: [inp("x", [2, 3], randn([6], 22, 3))],
  },
  "split [2,7] axis 1 into [2,4,1]": {
    ops: ["slice", "concat"],
    build: (_, [x]) => {
      const [a, b, c] = op.split(x, 1, [2, 4, 1]);
      return op.concat([op.mul(a, 2), op.exp(b), op.square(c)], 1);
    },
    inputs: [inp("x", [2, 7])],
  },
  "unsqueeze then squeeze": {
    ops: ["reshape", "matmul"],
    build: (_, [x, w]) => op.squeeze(op.matmul(op.unsqueeze(x, 1), w), 1), // [3,4] -> [3,1,4] @ [4,2] -> [3,1,2] -> [3,2]
    inputs: [inp("x", [3, 4]), inp("w", [4, 2])],
  },
  "oneHot (duplicate ids) @ table": {
    ops: ["matmul", "cast"],
    build: (g, [table]) => op.matmul(op.oneHot(indices(g, [3, 0, 3, 1, 3], [5]), 4, "float64"), table),
    inputs: [inp("table", [4, 3])],
  },
  "attention softmax(q k^T / 2) v": {
    ops: ["matmul", "softmax", "transpose", "div"],
    build: (_, [q, k, v]) => op.matmul(op.softmax(op.div(op.matmul(q, op.transposeLast(k)), 2), -1), v),
    inputs: [inp("q", [2, 3, 4]), inp("k", [2, 3, 4]), inp("v", [2, 3, 2])],
  },
};

/** Ops that have no gradient rule, on purpose: sources, comparisons, stopGradient, inference-only fused ops. */
const nonDifferentiableOps: PrimOp[] = [
  "input",
  "param",
  "constant",
  "full",
  "randomUniformLike",
  "equal",
  "less",
  "greater",
  "stopGradient",
  "moeSwiGlu",
  "qmoeSwiGlu",
  "multiHeadAttention",
  "rotaryEmbedding",
  "dynamicQuantizeMatMul",
  "dynamicQuantizeLinear",
  "matMulIntegerToFloat",
];

for (const [name, c] of Object.entries(cases)) {
  test(`gradcheck: ${name}`, async (t) => {
    const r = await gradcheck(c.build, c.inputs, c.opts);
    if (process.env.GRADCHECK_VERBOSE) t.diagnostic(formatReport(name, r));
    for (const o of c.ops) assert.ok(r.forwardOps.has(o), `${name}: declares op "${o}" but its forward graph has none`);
    assert.ok(r.ok, formatReport(name, r));
  });
}

test("every differentiable op has a gradcheck case", () => {
  const covered = new Set(Object.values(cases).flatMap((c) => c.ops));
  const missing = differentiableOps.filter((o) => !covered.has(o));
  assert.deepEqual(missing, [], `ops with a VJP rule but no gradcheck case: ${missing.join(", ")}`);
});

test("every op in vjpRules is differentiable or listed as non-differentiable", () => {
  for (const o of Object.keys(vjpRules) as PrimOp[]) {
    const listed = nonDifferentiableOps.includes(o);
    assert.ok(
      differentiableOps.includes(o) !== listed,
      `op "${o}": differentiable=${differentiableOps.includes(o)}, listed as non-differentiable=${listed}`,
    );
    assert.equal(vjpRules[o] === null, listed, `op "${o}": rule is ${vjpRules[o] === null ? "null" : "set"}`);
  }
});

// ------------------------------------------------------------ autodiff semantics

/** Run a graph's outputs once in ONNX Runtime, all inputs float64. */
async function evaluate(outputs: Record<string, Tensor>, feeds: Record<string, { shape: number[]; data: number[] }>) {
  const model = await compile(toOnnx({ outputs }), { threads: 1 });
  const host = Object.fromEntries(
    Object.entries(feeds).map(([k, v]) => [k, { dtype: "float64" as const, shape: v.shape, data: Float64Array.from(v.data) }]),
  );
  const out = await model.run(host);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v.data as Float64Array)]));
}

/** Nodes a set of tensors needs, by id. */
function ancestors(ts: readonly Tensor[]): Set<number> {
  const seen = new Set<number>();
  const stack = ts.map((t) => t.node);
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    for (const t of n.inputs) stack.push(t.node);
  }
  return seen;
}

test("grad: a wrt the loss does not depend on gets zeros; unrelated branches get no backward nodes", async () => {
  const g = new Graph();
  const x = g.input("x", "float64", [2, 3]);
  const u = g.input("u", "float64", [2, 3]);
  const related = op.reduceSum(op.tanh(x));
  op.reduceSum(op.exp(op.mul(u, u))); // an unrelated branch that the loss does not use
  const loss = op.mul(related, 2);
  const before = g.nodes.length;
  const [dx, du] = grad(loss, [x, u]);
  const created = g.nodes.slice(before);
  // d(2 sum tanh x)/dx: seed, mul-by-2 rule, reduceSum rule (reshape + expand), tanh rule (mul, sub, mul + scalar), zeros for u
  for (const n of created) {
    for (const t of n.inputs)
      assert.ok(!ancestors([u]).has(t.node.id) || t === u, `backward node ${n.op} reads the unrelated branch`);
  }
  assert.equal(du.node.op, "full", "gradient of an unrelated wrt is a fill of zeros");
  assert.deepEqual(du.shape, u.shape);
  const out = await evaluate(
    { dx, du },
    { x: { shape: [2, 3], data: [0.1, -0.2, 0.3, 0.4, -0.5, 0.6] }, u: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] } },
  );
  assert.deepEqual(out.du, [0, 0, 0, 0, 0, 0]);
  out.dx.forEach((v, i) => {
    assert.ok(Math.abs(v - 2 * (1 - Math.tanh([0.1, -0.2, 0.3, 0.4, -0.5, 0.6][i]) ** 2)) < 1e-12, `dx[${i}] = ${v}`);
  });
});

test("grad: the backward pass creates no dead nodes (rules skip inputs that need no gradient)", () => {
  // Each builder mixes the wrt x with a constant/unrelated operand c that needs no gradient;
  // every node grad() adds must feed some returned gradient.
  const builders: Record<string, (g: Graph, x: Tensor, c: Tensor) => Tensor> = {
    "add, c broadcast": (_, x, c) => op.add(x, c),
    "sub, c broadcast": (_, x, c) => op.sub(x, c),
    "c - x": (_, x, c) => op.sub(c, x),
    mul: (_, x, c) => op.mul(x, c),
    div: (_, x, c) => op.div(x, c),
    "pow, constant exponent": (_, x, c) => op.pow(x, c),
    where: (_, x, c) => op.where(op.greater(c, 0), x, c),
    "matmul x @ c^T": (_, x, c) => op.matmul(x, op.transposeLast(op.expand(c, [3, 4]))),
    "concat [x, c]": (_, x, c) => op.concat([x, op.expand(c, [3, 4])], 0),
    "scatterElementsAdd into c": (g, x, c) =>
      op.scatterElementsAdd(op.expand(c, [3, 4]), indices(g, [0, 1, 1, 2, 3, 3, 0, 0, 0, 1, 2, 3], [3, 4]), x, 1),
  };
  const dead: string[] = [];
  for (const [name, build] of Object.entries(builders)) {
    const g = new Graph();
    const x = g.input("x", "float64", [3, 4]);
    const c = op.constant(g, Float64Array.from([0.5, -1, 2, 3]), [4]);
    const loss = op.reduceSum(op.exp(build(g, x, c)));
    const before = g.nodes.length;
    const [dx] = grad(loss, [x]);
    const live = ancestors([dx]);
    const unused = g.nodes.slice(before).filter((n) => !live.has(n.id));
    if (unused.length > 0) dead.push(`${name}: ${unused.map((n) => n.op).join(", ")}`);
  }
  assert.deepEqual(dead, [], `dead backward nodes:\n${dead.join("\n")}`);
});

test("grad: stopGradient blocks the gradient", async () => {
  const g = new Graph();
  const x = g.input("x", "float64", [3]);
  // loss = sum(x * sg(x)): d/dx = sg(x) = x (not 2x)
  const loss = op.reduceSum(op.mul(x, op.stopGradient(x)));
  const [dx] = grad(loss, [x]);
  const out = await evaluate({ dx }, { x: { shape: [3], data: [1, -2, 3] } });
  assert.deepEqual(out.dx, [1, -2, 3]);
  // Through stopGradient alone, nothing reaches x.
  const g2 = new Graph();
  const y = g2.input("y", "float64", [2]);
  const blocked = op.reduceSum(op.exp(op.stopGradient(y)));
  const before = g2.nodes.length;
  const [dy] = grad(blocked, [y]);
  assert.equal(dy.node.op, "full");
  // only the seed and the zeros fill: no rule ran
  assert.deepEqual(
    g2.nodes.slice(before).map((n) => n.op),
    ["full", "full"],
  );
});

test("grad: a tensor used twice accumulates (x * x -> 2x, x + x -> 2)", async () => {
  const g = new Graph();
  const x = g.input("x", "float64", [4]);
  const [dSquare] = grad(op.reduceSum(op.mul(x, x)), [x]);
  const [dDouble] = grad(op.reduceSum(op.add(x, x)), [x]);
  const [dChain] = grad(op.reduceSum(op.mul(op.exp(x), op.add(x, op.exp(x)))), [x]); // e^x (x + e^x): e^x (x + 1 + 2 e^x)
  const xs = [0.5, -1, 2, 0.25];
  const out = await evaluate({ dSquare, dDouble, dChain }, { x: { shape: [4], data: xs } });
  assert.deepEqual(
    out.dSquare,
    xs.map((v) => 2 * v),
  );
  assert.deepEqual(out.dDouble, [2, 2, 2, 2]);
  out.dChain.forEach((v, i) => {
    const e = Math.exp(xs[i]);
    assert.ok(Math.abs(v - e * (xs[i] + 1 + 2 * e)) < 1e-12, `dChain[${i}] = ${v}`);
  });
});

test("grad: frozen parameters are left out of trainableParams and get no gradient path", () => {
  const g = new Graph();
  const x = g.input("x", "float32", [2, 4]);
  const w = g.param("w", [4, 3], { kind: "normal", std: 0.02 });
  const frozen = g.param("frozen", [4, 3], { kind: "normal", std: 0.02 }, { trainable: false });
  const b = g.param("b", [3], { kind: "constant", value: 0 }, { trainable: true });
  const loss = op.reduceSum(op.add(op.add(op.matmul(x, w), op.matmul(x, frozen)), b));
  const trainable = g.trainableParams();
  assert.deepEqual(
    trainable.map((p) => (p.node.op === "param" ? p.node.attrs.name : "?")),
    ["w", "b"],
  );
  assert.equal(g.params.size, 3);
  const before = g.nodes.length;
  const grads = grad(loss, trainable);
  assert.deepEqual(
    grads.map((d) => d.shape),
    [[4, 3], [3]],
  );
  const readsFrozen = g.nodes.slice(before).filter((n) => ancestors(n.inputs).has(frozen.node.id));
  assert.deepEqual(
    readsFrozen.map((n) => n.op),
    [],
    "no backward node should depend on the frozen parameter",
  );
});

test("grad: customVjp passes gradients only to its inputs, not into its forward subgraph", async () => {
  const g = new Graph();
  const x = g.input("x", "float64", [3]);
  const y = g.input("y", "float64", [3]);
  // forward depends on x, the vjp sends everything to y and nothing to x
  const out = op.customVjp(op.exp(x), [y, x], (d) => [op.mul(d, 3), null]);
  const [dx, dy] = grad(op.reduceSum(out), [x, y]);
  const r = await evaluate({ dx, dy }, { x: { shape: [3], data: [1, 2, 3] }, y: { shape: [3], data: [4, 5, 6] } });
  assert.deepEqual(r.dx, [0, 0, 0]);
  assert.deepEqual(r.dy, [3, 3, 3]);
});

test("grad: a straight-through estimator's gradient is exactly the soft path's", async () => {
  const g = new Graph();
  const x = g.input("x", "float64", [2, 3]);
  const w = op.constant(g, Float64Array.from([0.3, -1.2, 0.7, 2, -0.4, 1.1]), [2, 3]);
  const soft = op.softmax(op.mul(x, 2), -1);
  const hard = op.cast(op.equal(soft, op.reduceMax(soft, -1, true)), "float64"); // one-hot of the argmax
  const ste = op.customVjp(op.stopGradient(hard), [soft], (d) => [d]);
  const [dSte] = grad(op.reduceSum(op.mul(ste, w)), [x]);
  const [dSoft] = grad(op.reduceSum(op.mul(soft, w)), [x]);
  const r = await evaluate({ dSte, dSoft, hard: ste }, { x: { shape: [2, 3], data: [0.1, 0.9, -0.3, 1.5, -2, 0.2] } });
  assert.deepEqual(r.hard, [0, 1, 0, 1, 0, 0], "forward is the hard one-hot");
  assert.deepEqual(r.dSte, r.dSoft);
  assert.ok(
    r.dSoft.some((v) => Math.abs(v) > 1e-3),
    "the soft gradient is not trivially zero",
  );
});

test("grad: rejects a non-scalar loss without a seed", () => {
  const g = new Graph();
  const x = g.input("x", "float64", [3]);
  assert.throws(() => grad(op.exp(x), [x]), /loss must be a scalar, got \[3\]/);
  const seedGrad = grad(op.exp(x), [x], op.full(g, [3], 1, "float64"));
  assert.deepEqual(seedGrad[0].shape, [3]);
  const m = g.input("m", "float64", [3, 2]);
  // a seed of lower rank whose dims match a prefix of the loss's is still the wrong shape
  assert.throws(
    () => grad(op.exp(m), [m], op.full(g, [3], 1, "float64")),
    /grad: seed shape \[3\] differs from loss shape \[3, 2\]/,
  );
});

// ------------------------------------------------------------ export health

test("exported graphs with most ops (and symbolic dims) load and run in ONNX Runtime without warnings", () => {
  const script = fileURLToPath(new URL("../helpers/export-all-ops.ts", import.meta.url));
  const child = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 60_000 });
  assert.equal(child.status, 0, `child failed (status ${child.status}):\n${child.stderr}`);
  assert.equal(child.stderr, "", "ONNX Runtime (or the export) printed to stderr");
  const report = JSON.parse(child.stdout) as { ops: string[]; shapes: Record<string, number[]> };
  const missing = differentiableOps.filter((o) => !report.ops.includes(o));
  assert.deepEqual(missing, [], "the warning check should exercise every differentiable op");
  assert.deepEqual(report.shapes.y, [2, 3, 8]);
});
