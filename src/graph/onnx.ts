// ONNX export: any set of graph outputs becomes one ModelProto (opset 18). One emitter per
// primitive op, all in one table: it gets the node, the ONNX names of its inputs and
// outputs, and the graph being built, and adds the node's ONNX nodes and initializers.
// Parameters become initializers when a value is supplied, graph inputs otherwise
// (training steps feed them every call). Symbolic dims become ONNX dim_params; reshapes
// and fills over them are computed at run time from the shapes of the graph inputs that
// carry them.

import type { ConvAttrs, Node, PrimOp, Tensor, TypedArray } from "./graph.js";
import { nodesFor } from "./graph.js";
import { type AttrValue, flagAttr, floatAttr, OnnxGraphBuilder, onnxType, scalarTensorAttr } from "./onnxBuilder.js";
import { arrayOf } from "./ops.js";

export const OPSET = 18;

export interface ExportOptions {
  /** Graph outputs by name; every node they need is exported, nothing else. */
  outputs: Record<string, Tensor>;
  /** Value of a parameter to embed as an initializer; parameters without one become graph inputs. */
  paramValue?: (name: string) => TypedArray | undefined;
  /** Model name recorded in the file. */
  name?: string;
}

export interface OnnxModel {
  bytes: Uint8Array;
  /** Names of the graph inputs in file order (data inputs, then parameters fed at run time). */
  inputNames: string[];
  outputNames: string[];
  /** Whether any exported tensor is float64 (some ONNX Runtime fusions are float32-only). */
  hasFloat64: boolean;
}

/** ONNX names of a node's inputs and outputs. */
export interface OnnxNames {
  ins: string[];
  outs: string[];
}
export type OnnxEmitter<K extends PrimOp> = (node: Node<K>, names: OnnxNames, onnx: OnnxGraphBuilder) => void;
type OnnxEmitterTable = { [K in PrimOp]: OnnxEmitter<K> };

// ---------------------------------------------------------------- emitters shared by several ops

/** The same ONNX op: the node's inputs, its one output, no attributes. */
const sameOp =
  (opType: string): OnnxEmitter<PrimOp> =>
  (_, { ins, outs: [y] }, onnx) =>
    onnx.node(opType, ins, [y]);

/** The same ONNX op with the node's `axis` attribute. */
const sameOpWithAxis =
  (opType: string): OnnxEmitter<"softmax" | "logSoftmax" | "concat" | "gather" | "gatherElements"> =>
  ({ attrs }, { ins, outs: [y] }, onnx) =>
    onnx.node(opType, ins, [y], { axis: attrs.axis });

/** ONNX reductions take their axes as a second input. */
const reduction =
  (opType: string): OnnxEmitter<"reduceSum" | "reduceMean" | "reduceMax"> =>
  ({ attrs }, { ins: [x], outs: [y] }, onnx) =>
    onnx.node(opType, [x, onnx.int64Initializer(attrs.axes, "axes")], [y], { keepdims: flagAttr(attrs.keepDims) });

const convAttrs = (attrs: ConvAttrs): Record<string, AttrValue> => ({
  strides: attrs.strides,
  pads: attrs.pads,
  dilations: attrs.dilations,
});

/** Attributes of ONNX Runtime's MoE / QMoE for plain SwiGLU experts, `k` of them per token. */
function swiGluMoeAttrs(k: number): Record<string, AttrValue> {
  return {
    k,
    activation_type: "swiglu",
    swiglu_fusion: 1, // fc1 rows interleaved: gate, up, gate, up, ...
    activation_alpha: floatAttr(1), // silu(gate) * (up + beta): plain SwiGLU with alpha 1, beta 0
    activation_beta: floatAttr(0),
    swiglu_limit: floatAttr(3.0e38),
    normalize_routing_weights: 0,
  };
}

/**
 * ONNX Runtime's MoE / QMoE take router logits and pick top-k of softmax(logits) themselves:
 * hand them log(weight) at the chosen experts (log 0 = -inf elsewhere), so they pick exactly
 * these experts with weights w / sum(w), then multiply back by sum(w). `callExperts` emits the
 * expert op from those logits [N, E] into `mixed` [N, C].
 */
function routedExperts(
  node: Node<"moeSwiGlu" | "qmoeSwiGlu">,
  { ins, outs: [y] }: OnnxNames,
  onnx: OnnxGraphBuilder,
  callExperts: (logits: string, mixed: string, k: number) => void,
): void {
  const [x, indices, , fc1] = node.inputs; // x [N, C], indices and weights [N, K], fc1 [E, 2H, C]
  const [, indicesName, weightsName] = ins;
  const zeros = onnx.fresh("moe_zeros");
  onnx.node("ConstantOfShape", [onnx.shapeTensor([x.shape[0], fc1.shape[0]])], [zeros], {
    value: scalarTensorAttr(Float32Array.of(0)),
  }); // [N, E]
  const sparse = onnx.fresh("moe_sparse");
  onnx.node("ScatterElements", [zeros, indicesName, weightsName], [sparse], { axis: 1 });
  const logits = onnx.fresh("moe_logits");
  onnx.node("Log", [sparse], [logits]);
  const mixed = onnx.fresh("moe_mixed");
  callExperts(logits, mixed, indices.shape[1] as number);
  const total = onnx.fresh("moe_total"); // [N, 1]
  onnx.node("ReduceSum", [weightsName, onnx.int64Initializer([1], "axes")], [total], { keepdims: 1 });
  onnx.node("Mul", [mixed, total], [y]);
}

// ---------------------------------------------------------------- one emitter per op

export const onnxEmitters: OnnxEmitterTable = {
  input: ({ outputs: [t] }, { outs: [name] }, onnx) => onnx.dataInput(name, t),
  param: ({ attrs, outputs: [t] }, { outs: [name] }, onnx) => {
    const value = onnx.paramValue?.(attrs.name);
    if (!value) return onnx.paramInput(name, t);
    if (value.length !== t.shape.reduce<number>((n, d) => n * (d as number), 1)) {
      throw new Error(`toOnnx: value of parameter "${name}" has ${value.length} elements, shape is [${t.shape.join(", ")}]`);
    }
    onnx.initializer(name, value, t.shape as number[]);
  },
  constant: ({ attrs, outputs: [t] }, { outs: [name] }, onnx) => onnx.initializer(name, attrs.data, t.shape as number[], t.dtype),
  full: ({ attrs, outputs: [t] }, { outs: [y] }, onnx) =>
    onnx.node("ConstantOfShape", [onnx.shapeTensor(t.shape)], [y], { value: scalarTensorAttr(arrayOf(t.dtype, [attrs.value])) }),
  randomUniformLike: ({ attrs }, { ins, outs: [y] }, onnx) =>
    onnx.node("RandomUniformLike", ins, [y], {
      low: floatAttr(attrs.low),
      high: floatAttr(attrs.high),
      seed: floatAttr(attrs.seed),
    }),

  // elementwise
  add: sameOp("Add"),
  sub: sameOp("Sub"),
  mul: sameOp("Mul"),
  div: sameOp("Div"),
  pow: sameOp("Pow"),
  neg: sameOp("Neg"),
  exp: sameOp("Exp"),
  log: sameOp("Log"),
  sqrt: sameOp("Sqrt"),
  tanh: sameOp("Tanh"),
  sigmoid: sameOp("Sigmoid"),
  relu: sameOp("Relu"),
  equal: sameOp("Equal"),
  less: sameOp("Less"),
  greater: sameOp("Greater"),
  where: sameOp("Where"),
  cast: ({ attrs }, { ins, outs: [y] }, onnx) => onnx.node("Cast", ins, [y], { to: onnxType[attrs.to] }),
  stopGradient: sameOp("Identity"),
  // The first input is the forward value; the others only feed the custom gradient.
  customVjp: (_, { ins: [forward], outs: [y] }, onnx) => onnx.node("Identity", [forward], [y]),

  // contractions and normalisers
  matmul: sameOp("MatMul"),
  // Inputs: A, B (packed 4-bit codes), absmax; quant_type 1 is NF4. transB stays 1: ONNX
  // Runtime 1.30's CPU kernel ignores transB 0 (it still multiplies by Wᵀ, reading past its buffer).
  matmulBnb4: ({ attrs }, { ins, outs: [y] }, onnx) =>
    onnx.contribNode("MatMulBnb4", ins, [y], { K: attrs.k, N: attrs.n, block_size: attrs.blockSize, quant_type: 1, transB: 1 }),
  softmax: sameOpWithAxis("Softmax"),
  logSoftmax: sameOpWithAxis("LogSoftmax"),
  reduceSum: reduction("ReduceSum"),
  reduceMean: reduction("ReduceMean"),
  reduceMax: reduction("ReduceMax"),
  cumSum: ({ attrs }, { ins: [x], outs: [y] }, onnx) =>
    onnx.node("CumSum", [x, onnx.int64Initializer([attrs.axis], "axis")], [y], {
      exclusive: flagAttr(attrs.exclusive),
      reverse: flagAttr(attrs.reverse),
    }),
  topK: ({ attrs }, { ins: [x], outs }, onnx) =>
    onnx.node("TopK", [x, onnx.int64Initializer([attrs.k], "k")], outs, {
      axis: attrs.axis,
      largest: flagAttr(attrs.largest),
      sorted: 1,
    }),
  conv2d: ({ attrs }, { ins, outs: [y] }, onnx) => onnx.node("Conv", ins, [y], { ...convAttrs(attrs), group: 1 }),
  convTranspose2d: ({ attrs }, { ins, outs: [y] }, onnx) =>
    onnx.node("ConvTranspose", ins, [y], { ...convAttrs(attrs), output_padding: attrs.outputPadding, group: 1 }),

  // layout
  reshape: ({ attrs, inputs: [x] }, { ins: [data], outs: [y] }, onnx) =>
    onnx.node("Reshape", [data, onnx.shapeTensor(attrs.shape, x)], [y]), // int64 [rank of y] target shape
  transpose: ({ attrs }, { ins, outs: [y] }, onnx) => onnx.node("Transpose", ins, [y], { perm: attrs.perm }),
  concat: sameOpWithAxis("Concat"),
  slice: ({ attrs: { axis, start, end } }, { ins: [x], outs: [y] }, onnx) => {
    const ends = onnx.dimValue(end); // first: names and initializers are numbered in call order
    onnx.node("Slice", [x, onnx.int64Initializer([start]), ends, onnx.int64Initializer([axis])], [y]);
  },
  pad: ({ attrs: { axis, before, after }, inputs: [x] }, { ins: [data], outs: [y] }, onnx) => {
    const pads = new Array<number>(2 * x.rank).fill(0); // [begin of each axis..., end of each axis...]
    pads[axis] = before;
    pads[x.rank + axis] = after;
    onnx.node("Pad", [data, onnx.int64Initializer(pads, "pads")], [y], { mode: "constant" });
  },
  expand: ({ attrs }, { ins: [x], outs: [y] }, onnx) => onnx.node("Expand", [x, onnx.shapeTensor(attrs.shape)], [y]),

  // indexing
  gather: sameOpWithAxis("Gather"),
  gatherElements: sameOpWithAxis("GatherElements"),
  gatherND: sameOp("GatherND"),
  scatterElementsAdd: ({ attrs }, { ins, outs: [y] }, onnx) =>
    onnx.node("ScatterElements", ins, [y], { axis: attrs.axis, reduction: "add" }),
  scatterNDAdd: (_, { ins, outs: [y] }, onnx) => onnx.node("ScatterND", ins, [y], { reduction: "add" }),

  // fused, inference only: ONNX Runtime contrib ops
  moeSwiGlu: (node, names, onnx) =>
    routedExperts(node, names, onnx, (logits, mixed, k) => {
      const [x, , , fc1, fc2] = names.ins; // MoE inputs: input, router_probs, fc1, fc1_bias, fc2
      onnx.contribNode("MoE", [x, logits, fc1, "", fc2], [mixed], swiGluMoeAttrs(k));
    }),
  qmoeSwiGlu: (node, names, onnx) =>
    routedExperts(node, names, onnx, (logits, mixed, k) => {
      const [x, , , fc1, fc1Scale, fc2, fc2Scale] = names.ins; // QMoE: input, router_probs, fc1, fc1_scales, fc1_bias, fc2, fc2_scales
      onnx.contribNode("QMoE", [x, logits, fc1, fc1Scale, "", fc2, fc2Scale], [mixed], {
        ...swiGluMoeAttrs(k),
        expert_weight_bits: 8,
      });
    }),
  // Inputs: query, key, value, bias, key_padding_mask, attention_bias, past_key, past_value.
  // The present outputs stay named even when unread: without them ONNX Runtime ignores the past.
  multiHeadAttention: ({ attrs }, { ins: [q, k, v, bias, pastK, pastV], outs }, onnx) =>
    onnx.contribNode("MultiHeadAttention", [q, k, v, "", "", bias, pastK, pastV], outs, {
      num_heads: attrs.heads,
      scale: floatAttr(attrs.scale),
    }),
  rotaryEmbedding: ({ attrs }, { ins, outs: [y] }, onnx) =>
    onnx.contribNode("RotaryEmbedding", ins, [y], { num_heads: attrs.heads, interleaved: 0 }),
  dynamicQuantizeMatMul: (_, { ins, outs: [y] }, onnx) => onnx.contribNode("DynamicQuantizeMatMul", ins, [y]),
  dynamicQuantizeLinear: (_, { ins, outs }, onnx) => onnx.node("DynamicQuantizeLinear", ins, outs),
  matMulIntegerToFloat: (_, { ins, outs: [y] }, onnx) => onnx.contribNode("MatMulIntegerToFloat", ins, [y]),
};

// ---------------------------------------------------------------- the export

const isSource = (t: Tensor): boolean => t.node.op === "input" || t.node.op === "param" || t.node.op === "constant";

export function toOnnx(opts: ExportOptions): OnnxModel {
  const outputEntries = Object.entries(opts.outputs);
  if (outputEntries.length === 0) throw new Error("toOnnx: no outputs given");
  const nodes = nodesFor(outputEntries.map(([, t]) => t));
  const onnx = new OnnxGraphBuilder(nodes, opts.paramValue);

  // An output computed by a node is named after the output directly (no Identity copy);
  // inputs, parameters, constants and a tensor given as two outputs go through Identity.
  const directOutput = new Map<number, string>();
  for (const [name, t] of outputEntries) {
    if (!isSource(t) && !directOutput.has(t.id)) directOutput.set(t.id, name);
  }

  for (const node of nodes) {
    const outs = node.outputs.map((t) =>
      onnx.bind(t, node.op === "input" || node.op === "param" ? node.attrs.name : (directOutput.get(t.id) ?? `t${t.id}`)),
    );
    const ins = node.inputs.map((t) => onnx.nameOf(t));
    (onnxEmitters[node.op] as OnnxEmitter<PrimOp>)(node, { ins, outs }, onnx);
  }
  for (const [name, t] of outputEntries) onnx.output(name, t);

  return {
    bytes: onnx.encode(opts.name ?? "graph", OPSET),
    inputNames: onnx.inputNames(),
    outputNames: outputEntries.map(([name]) => name),
    hasFloat64: nodes.some((n) => n.outputs.some((t) => t.dtype === "float64")),
  };
}
