// Op builders: each checks its inputs, infers the output shape and adds one primitive
// node. Composite ops (gelu, silu, squeeze, split, oneHot, ...) are built from the
// primitives at the bottom of this file and need no gradient rule of their own.
//
// Dimension letters used in comments: B batch, T sequence, C channels/model width,
// H heads, D head size, V vocabulary, E experts, K top-k.

import {
  broadcastShapes,
  type Dim,
  dimAdd,
  dimDiv,
  dimEq,
  isStatic,
  normAxis,
  numel,
  type Shape,
  shapeEq,
  showShape,
} from "./dims.js";
import {
  type Bnb4Attrs,
  type Bnb4QuantType,
  type ConvAttrs,
  type DType,
  type Graph,
  isFloat,
  type Tensor,
  type TypedArray,
} from "./graph.js";
import { ABSMAX_ZERO_POINT, checkNf4Sizes, NF4_CODEBOOK } from "./nf4.js";

export type TensorLike = Tensor | number;

// ---------------------------------------------------------------- constants

/** The dtype a typed array holds (a Uint8Array is bool unless said otherwise). */
export function dtypeOfArray(data: TypedArray): DType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof Int8Array) return "int8";
  return "bool";
}

export function constant(graph: Graph, data: TypedArray, shape: readonly number[], dtype: DType = dtypeOfArray(data)): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`constant: ${data.length} values do not fill shape ${showShape(shape)}`);
  const holds = dtypeOfArray(data);
  if (dtype !== holds && !(holds === "bool" && dtype === "uint8"))
    throw new Error(`constant: a ${data.constructor.name} cannot hold ${dtype}`);
  return graph.addNode("constant", { data }, [], [{ dtype, shape }])[0];
}

export function scalar(graph: Graph, value: number, dtype: DType = "float32"): Tensor {
  return constant(graph, arrayOf(dtype, [value]), []);
}

export function arrayOf(dtype: DType, values: readonly number[]): TypedArray {
  switch (dtype) {
    case "float32":
      return Float32Array.from(values);
    case "float64":
      return Float64Array.from(values);
    case "int64":
      return BigInt64Array.from(values, (v) => BigInt(v));
    case "int32":
      return Int32Array.from(values);
    case "int8":
      return Int8Array.from(values);
    case "uint8":
      return Uint8Array.from(values);
    case "bool":
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
  }
}

/** int64 [0, 1, ..., n-1]. */
export const arange = (graph: Graph, n: number): Tensor =>
  constant(
    graph,
    arrayOf(
      "int64",
      Array.from({ length: n }, (_, i) => i),
    ),
    [n],
  );

/** A tensor of one value; symbolic dims allowed. */
export function full(graph: Graph, shape: Shape, value: number, dtype: DType = "float32"): Tensor {
  return graph.addNode("full", { value }, [], [{ dtype, shape }])[0];
}

/** Uniform noise in [low, high) with x's shape and dtype; a fresh draw every run. */
export function randomUniformLike(x: Tensor, low = 0, high = 1, seed = 0): Tensor {
  requireFloat(x, "randomUniformLike");
  return x.graph.addNode("randomUniformLike", { low, high, seed }, [x], [{ dtype: x.dtype, shape: x.shape }])[0];
}

// ---------------------------------------------------------------- elementwise

function requireFloat(x: Tensor, what: string): void {
  if (!isFloat(x.dtype)) throw new Error(`${what}: expected a float tensor, got ${x.dtype}`);
}

/** Lift a JS number to a scalar constant of the other operand's dtype. */
function lift(a: TensorLike, b: TensorLike, what: string): [Tensor, Tensor] {
  if (typeof a === "number" && typeof b === "number") throw new Error(`${what}: at least one operand must be a tensor`);
  const ta = typeof a === "number" ? scalar((b as Tensor).graph, a, (b as Tensor).dtype) : a;
  const tb = typeof b === "number" ? scalar(ta.graph, b, ta.dtype) : b;
  if (ta.dtype !== tb.dtype) throw new Error(`${what}: dtypes differ (${ta.dtype} vs ${tb.dtype}); cast one first`);
  return [ta, tb];
}

type BinaryOp = "add" | "sub" | "mul" | "div" | "pow";
function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const [ta, tb] = lift(a, b, op);
  const shape = broadcastShapes(ta.shape, tb.shape, op);
  return ta.graph.addNode(op, {}, [ta, tb], [{ dtype: ta.dtype, shape }])[0];
}
export const add = (a: TensorLike, b: TensorLike): Tensor => binary("add", a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary("sub", a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary("mul", a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary("div", a, b);
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary("pow", a, b);

type CompareOp = "equal" | "less" | "greater";
function compare(op: CompareOp, a: TensorLike, b: TensorLike): Tensor {
  const [ta, tb] = lift(a, b, op);
  const shape = broadcastShapes(ta.shape, tb.shape, op);
  return ta.graph.addNode(op, {}, [ta, tb], [{ dtype: "bool", shape }])[0];
}
export const equal = (a: TensorLike, b: TensorLike): Tensor => compare("equal", a, b);
export const less = (a: TensorLike, b: TensorLike): Tensor => compare("less", a, b);
export const greater = (a: TensorLike, b: TensorLike): Tensor => compare("greater", a, b);

type UnaryOp = "neg" | "exp" | "log" | "sqrt" | "tanh" | "sigmoid" | "relu" | "stopGradient";
function unary(op: UnaryOp, x: Tensor): Tensor {
  if (op !== "neg" && op !== "stopGradient") requireFloat(x, op);
  return x.graph.addNode(op, {}, [x], [{ dtype: x.dtype, shape: x.shape }])[0];
}
export const neg = (x: Tensor): Tensor => unary("neg", x);
export const exp = (x: Tensor): Tensor => unary("exp", x);
export const log = (x: Tensor): Tensor => unary("log", x);
export const sqrt = (x: Tensor): Tensor => unary("sqrt", x);
export const tanh = (x: Tensor): Tensor => unary("tanh", x);
export const sigmoid = (x: Tensor): Tensor => unary("sigmoid", x);
export const relu = (x: Tensor): Tensor => unary("relu", x);
/** Identity forward, zero gradient backward. */
export const stopGradient = (x: Tensor): Tensor => unary("stopGradient", x);

export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (cond.dtype !== "bool") throw new Error(`where: condition must be bool, got ${cond.dtype}`);
  const [ta, tb] = lift(a, b, "where");
  const shape = broadcastShapes(cond.shape, broadcastShapes(ta.shape, tb.shape, "where"), "where");
  return cond.graph.addNode("where", {}, [cond, ta, tb], [{ dtype: ta.dtype, shape }])[0];
}

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return x.graph.addNode("cast", { to }, [x], [{ dtype: to, shape: x.shape }])[0];
}

/**
 * `forward` flows forward unchanged; backward, the gradient reaching it is handed to
 * `vjp`, whose results become the gradients of `inputs` (nothing flows into `forward`'s
 * own subgraph). Straight-through estimators are one line with it.
 */
export function customVjp(forward: Tensor, inputs: readonly Tensor[], vjp: (dOut: Tensor) => (Tensor | null)[]): Tensor {
  return forward.graph.addNode("customVjp", { vjp }, [forward, ...inputs], [{ dtype: forward.dtype, shape: forward.shape }])[0];
}

// ---------------------------------------------------------------- contractions

/** Batched matmul [..., M, K] @ [..., K, N] -> [..., M, N], batch dims broadcast. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank < 2 || b.rank < 2)
    throw new Error(`matmul: both operands need rank >= 2, got ${showShape(a.shape)} @ ${showShape(b.shape)}`);
  if (a.dtype !== b.dtype) throw new Error(`matmul: dtypes differ (${a.dtype} vs ${b.dtype})`);
  const k = a.shape[a.rank - 1];
  if (!dimEq(k, b.shape[b.rank - 2])) {
    throw new Error(`matmul: inner dimensions differ: ${showShape(a.shape)} @ ${showShape(b.shape)}`);
  }
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), "matmul batch");
  const shape = [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]];
  return a.graph.addNode("matmul", {}, [a, b], [{ dtype: a.dtype, shape }])[0];
}

/** Checks an NF4 weight's tensors against [n, k] in blocks of `blockSize`; fills in the defaults. */
function bnb4Attrs(
  what: string,
  packed: Tensor,
  absmax: Tensor,
  opts: { k: number; n: number; blockSize: number; quantType?: Bnb4QuantType },
): Bnb4Attrs {
  const attrs: Bnb4Attrs = { k: opts.k, n: opts.n, blockSize: opts.blockSize, quantType: opts.quantType ?? "nf4" };
  const { k, n } = attrs;
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 1 || n < 1)
    throw new Error(`${what}: k=${k} and n=${n} must be positive integers`);
  if (attrs.quantType !== "nf4") throw new Error(`${what}: quantType "${attrs.quantType}" must be "nf4"`);
  if (packed.dtype !== "uint8" || packed.rank !== 1 || typeof packed.shape[0] !== "number")
    throw new Error(`${what}: packed must be static uint8 [ceil(n*k / 2)], got ${packed}`);
  if (absmax.dtype !== "float32" || absmax.rank !== 1 || typeof absmax.shape[0] !== "number")
    throw new Error(`${what}: absmax must be static float32 [blocks], got ${absmax}`);
  checkNf4Sizes(packed.shape[0], absmax.shape[0], n * k, attrs.blockSize, `${what} (n=${n}, k=${k})`);
  return attrs;
}

/**
 * x @ Wᵀ with W [n, k] = [out, in] stored as bitsandbytes 4-bit NF4 (see nf4.ts): packed
 * uint8 [ceil(n*k / 2)] codes and float32 absmax [ceil(n*k / blockSize)] scales, dequantized
 * per call (ONNX Runtime's com.microsoft.MatMulBnb4). x [..., k] -> [..., n], float32 (ONNX
 * Runtime has no double kernel). absmax may be computed (e.g. by dequantizeAbsmax).
 * Gradient: to x only, dY @ W, through dequantizeBnb4 (the weights are frozen constants).
 */
export function matmulBnb4(
  x: Tensor,
  packed: Tensor,
  absmax: Tensor,
  opts: { k: number; n: number; blockSize: number; quantType?: Bnb4QuantType },
): Tensor {
  const attrs = bnb4Attrs("matmulBnb4", packed, absmax, opts);
  if (x.dtype !== "float32") throw new Error(`matmulBnb4: x must be float32 (ONNX Runtime's kernel is float-only), got ${x}`);
  if (x.rank < 2 || !dimEq(x.shape[x.rank - 1], attrs.k))
    throw new Error(`matmulBnb4: x ${showShape(x.shape)} must be [..., ${attrs.k}] (rank >= 2, ending in k, the in features)`);
  const shape = [...x.shape.slice(0, -1), attrs.n];
  return x.graph.addNode("matmulBnb4", attrs, [x, packed, absmax], [{ dtype: "float32", shape }])[0];
}

export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat(x, "softmax");
  const ax = normAxis(axis, x.rank, "softmax");
  return x.graph.addNode("softmax", { axis: ax }, [x], [{ dtype: x.dtype, shape: x.shape }])[0];
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireFloat(x, "logSoftmax");
  const ax = normAxis(axis, x.rank, "logSoftmax");
  return x.graph.addNode("logSoftmax", { axis: ax }, [x], [{ dtype: x.dtype, shape: x.shape }])[0];
}

type ReduceOp = "reduceSum" | "reduceMean" | "reduceMax";
function reduce(op: ReduceOp, x: Tensor, axes: number | readonly number[] | undefined, keepDims: boolean): Tensor {
  const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === "number" ? [axes] : [...axes];
  const norm = [...new Set(list.map((a) => normAxis(a, x.rank, op)))].sort((a, b) => a - b);
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!norm.includes(i)) shape.push(d);
    else if (keepDims) shape.push(1);
  });
  return x.graph.addNode(op, { axes: norm, keepDims }, [x], [{ dtype: x.dtype, shape }])[0];
}
export const reduceSum = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor =>
  reduce("reduceSum", x, axes, keepDims);
export const reduceMean = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor =>
  reduce("reduceMean", x, axes, keepDims);
export const reduceMax = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor =>
  reduce("reduceMax", x, axes, keepDims);

export function cumSum(x: Tensor, axis: number, opts: { exclusive?: boolean; reverse?: boolean } = {}): Tensor {
  const ax = normAxis(axis, x.rank, "cumSum");
  const attrs = { axis: ax, exclusive: opts.exclusive ?? false, reverse: opts.reverse ?? false };
  return x.graph.addNode("cumSum", attrs, [x], [{ dtype: x.dtype, shape: x.shape }])[0];
}

/** The k largest (or smallest) entries along an axis: values and int64 indices. */
export function topK(x: Tensor, k: number, axis = -1, largest = true): { values: Tensor; indices: Tensor } {
  const ax = normAxis(axis, x.rank, "topK");
  const n = x.shape[ax];
  if (!Number.isInteger(k) || k < 1 || (typeof n === "number" && k > n)) {
    throw new Error(`topK: k=${k} must be an integer in [1, ${n}] for axis ${ax} of ${showShape(x.shape)}`);
  }
  const shape = x.shape.map((d, i) => (i === ax ? k : d));
  const [values, indices] = x.graph.addNode(
    "topK",
    { k, axis: ax, largest },
    [x],
    [
      { dtype: x.dtype, shape },
      { dtype: "int64", shape },
    ],
  );
  return { values, indices };
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number, number, number];
  dilation?: number | [number, number];
}
const pair = (v: number | [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === "number" ? [v, v] : v;
function convAttrs(o: Conv2dOptions): ConvAttrs {
  const p = o.padding ?? 0;
  return {
    strides: pair(o.stride, 1),
    pads: typeof p === "number" ? [p, p, p, p] : p,
    dilations: pair(o.dilation, 1),
  };
}
function convOutSize(n: number, k: number, a: ConvAttrs, axis: 0 | 1): number {
  const span = a.dilations[axis] * (k - 1) + 1;
  return Math.floor((n + a.pads[axis] + a.pads[axis + 2] - span) / a.strides[axis]) + 1;
}

function staticDims(t: Tensor, what: string): number[] {
  if (!isStatic(t.shape)) throw new Error(`${what}: needs a static shape, got ${showShape(t.shape)}`);
  return [...t.shape];
}

/** 2-D convolution, NCHW: x [N, Ci, H, W], w [Co, Ci, kh, kw] -> [N, Co, Ho, Wo]. */
export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  const attrs = convAttrs(opts);
  if (x.rank !== 4 || w.rank !== 4)
    throw new Error(`conv2d: x and w must be rank 4 (NCHW, OIHW), got ${showShape(x.shape)}, ${showShape(w.shape)}`);
  const [, ci, h, wd] = staticDims(x, "conv2d");
  const [co, wci, kh, kw] = staticDims(w, "conv2d");
  if (ci !== wci) throw new Error(`conv2d: x has ${ci} channels but w expects ${wci}`);
  const ho = convOutSize(h, kh, attrs, 0);
  const wo = convOutSize(wd, kw, attrs, 1);
  if (ho < 1 || wo < 1) throw new Error(`conv2d: kernel ${kh}x${kw} does not fit input ${h}x${wd} with these pads`);
  return x.graph.addNode("conv2d", attrs, [x, w], [{ dtype: x.dtype, shape: [x.shape[0], co, ho, wo] }])[0];
}

/** Transposed 2-D convolution (the adjoint of conv2d): x [N, Ci, H, W], w [Ci, Co, kh, kw]. */
export function convTranspose2d(x: Tensor, w: Tensor, opts: Conv2dOptions & { outputPadding?: [number, number] } = {}): Tensor {
  const attrs = { ...convAttrs(opts), outputPadding: opts.outputPadding ?? ([0, 0] as [number, number]) };
  if (x.rank !== 4 || w.rank !== 4) {
    throw new Error(`convTranspose2d: x and w must be rank 4 (NCHW, IOHW), got ${showShape(x.shape)}, ${showShape(w.shape)}`);
  }
  const [, ci, h, wd] = staticDims(x, "convTranspose2d");
  const [wci, co, kh, kw] = staticDims(w, "convTranspose2d");
  if (ci !== wci) throw new Error(`convTranspose2d: x has ${ci} channels but w expects ${wci}`);
  const size = (n: number, k: number, ax: 0 | 1) =>
    attrs.strides[ax] * (n - 1) +
    attrs.outputPadding[ax] +
    attrs.dilations[ax] * (k - 1) +
    1 -
    attrs.pads[ax] -
    attrs.pads[ax + 2];
  const [ho, wo] = [size(h, kh, 0), size(wd, kw, 1)];
  if (ho < 1 || wo < 1) throw new Error(`convTranspose2d: pads leave an empty ${ho}x${wo} output for input ${h}x${wd}`);
  attrs.outputPadding.forEach((p, ax) => {
    if (p < 0 || (p >= attrs.strides[ax] && p >= attrs.dilations[ax])) {
      throw new Error(`convTranspose2d: outputPadding ${p} must be >= 0 and smaller than the stride or dilation`);
    }
  });
  const shape = [x.shape[0], co, ho, wo];
  return x.graph.addNode("convTranspose2d", attrs, [x, w], [{ dtype: x.dtype, shape }])[0];
}

// ---------------------------------------------------------------- layout

/**
 * Reshape to `shape`; one entry may be -1 (inferred). Symbolic entries must be
 * derivable from the input (e.g. [B, T, C] -> ["B*T", C]).
 */
export function reshape(x: Tensor, shape: readonly Dim[]): Tensor {
  const total = numel(x.shape);
  const minus = shape.filter((d) => d === -1).length;
  if (minus > 1) throw new Error(`reshape: at most one -1 in ${showShape(shape)}`);
  let out = [...shape];
  if (minus === 1) {
    const known = numel(shape.filter((d) => d !== -1));
    const rest = dimDiv(total, known);
    if (rest === undefined) throw new Error(`reshape: cannot reshape ${showShape(x.shape)} to ${showShape(shape)}`);
    out = shape.map((d) => (d === -1 ? rest : d));
  }
  if (!dimEq(numel(out), total)) {
    throw new Error(`reshape: ${showShape(x.shape)} has ${total} elements but ${showShape(shape)} has ${numel(out)}`);
  }
  if (shapeEq(out, x.shape)) return x;
  return x.graph.addNode("reshape", { shape: out }, [x], [{ dtype: x.dtype, shape: out }])[0];
}

export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== x.rank || sorted.some((p, i) => p !== i)) {
    throw new Error(`transpose: perm [${perm.join(", ")}] is not a permutation of ${x.rank} axes`);
  }
  if (perm.every((p, i) => p === i)) return x;
  return x.graph.addNode("transpose", { perm: [...perm] }, [x], [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }])[0];
}

/** Swap the last two axes. */
export function transposeLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error("concat: no tensors given");
  if (xs.length === 1) return xs[0];
  const first = xs[0];
  const ax = normAxis(axis, first.rank, "concat");
  let total: Dim = 0;
  for (const t of xs) {
    if (t.rank !== first.rank || t.dtype !== first.dtype) throw new Error(`concat: ${t} does not match ${first}`);
    t.shape.forEach((d, i) => {
      if (i !== ax && !dimEq(d, first.shape[i])) {
        throw new Error(`concat: shapes ${showShape(first.shape)} and ${showShape(t.shape)} differ off axis ${ax}`);
      }
    });
    total = dimAdd(total, t.shape[ax]);
  }
  const shape = first.shape.map((d, i) => (i === ax ? total : d));
  return first.graph.addNode("concat", { axis: ax }, xs, [{ dtype: first.dtype, shape }])[0];
}

/**
 * x[..., start:end, ...] along one axis (negative indices count from the end). `end` may
 * be a symbol (e.g. "T") to take the first T rows of a longer static axis at run time.
 */
export function slice(x: Tensor, axis: number, start: number, end?: Dim): Tensor {
  const ax = normAxis(axis, x.rank, "slice");
  const n = x.shape[ax];
  if (typeof n !== "number") throw new Error(`slice: axis ${ax} of ${showShape(x.shape)} is symbolic`);
  const s = Math.min(Math.max(start < 0 ? start + n : start, 0), n);
  if (typeof end === "string") {
    if (s !== 0) throw new Error("slice: a symbolic end needs start 0");
    const shape = x.shape.map((d, i) => (i === ax ? end : d));
    return x.graph.addNode("slice", { axis: ax, start: 0, end }, [x], [{ dtype: x.dtype, shape }])[0];
  }
  const e = Math.min(Math.max(end === undefined ? n : end < 0 ? end + n : end, 0), n);
  if (e <= s) throw new Error(`slice: [${start}:${end}] of axis ${ax} (size ${n}) is empty`);
  if (s === 0 && e === n) return x;
  const shape = x.shape.map((d, i) => (i === ax ? e - s : d));
  return x.graph.addNode("slice", { axis: ax, start: s, end: e }, [x], [{ dtype: x.dtype, shape }])[0];
}

/** Zero-pad one axis: `before` zeros, x, `after` zeros. */
export function pad(x: Tensor, axis: number, before: number, after: number): Tensor {
  const ax = normAxis(axis, x.rank, "pad");
  const n = x.shape[ax];
  if (typeof n !== "number") throw new Error(`pad: axis ${ax} of ${showShape(x.shape)} is symbolic`);
  if (before < 0 || after < 0) throw new Error("pad: amounts must be >= 0");
  if (before === 0 && after === 0) return x;
  const shape = x.shape.map((d, i) => (i === ax ? n + before + after : d));
  return x.graph.addNode("pad", { axis: ax, before, after }, [x], [{ dtype: x.dtype, shape }])[0];
}

/** Broadcast x to `shape` (numpy rules; x's rank may be lower). */
export function expand(x: Tensor, shape: readonly Dim[]): Tensor {
  const out = broadcastShapes(x.shape, shape, "expand");
  if (!shapeEq(out, shape)) throw new Error(`expand: ${showShape(x.shape)} cannot expand to ${showShape(shape)}`);
  if (shapeEq(out, x.shape)) return x;
  return x.graph.addNode("expand", { shape: out }, [x], [{ dtype: x.dtype, shape: out }])[0];
}

// ---------------------------------------------------------------- indexing

function requireIndex(t: Tensor, what: string): void {
  if (t.dtype !== "int64") throw new Error(`${what}: indices must be int64, got ${t.dtype}`);
}

/** Take slices along `axis` at `indices`: out shape = x[:axis] + indices + x[axis+1:]. */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  requireIndex(indices, "gather");
  const ax = normAxis(axis, x.rank, "gather");
  const shape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  return x.graph.addNode("gather", { axis: ax }, [x, indices], [{ dtype: x.dtype, shape }])[0];
}

/** out[i][j] = x[i][indices[i][j]] along `axis`; indices has x's rank. */
export function gatherElements(x: Tensor, indices: Tensor, axis: number): Tensor {
  requireIndex(indices, "gatherElements");
  const ax = normAxis(axis, x.rank, "gatherElements");
  if (indices.rank !== x.rank) throw new Error(`gatherElements: indices rank ${indices.rank} != data rank ${x.rank}`);
  return x.graph.addNode("gatherElements", { axis: ax }, [x, indices], [{ dtype: x.dtype, shape: indices.shape }])[0];
}

/** indices [..., q] address the first q axes of x; out = indices[:-1] + x[q:]. */
export function gatherND(x: Tensor, indices: Tensor): Tensor {
  requireIndex(indices, "gatherND");
  const q = indices.shape[indices.rank - 1];
  if (typeof q !== "number" || q > x.rank) throw new Error(`gatherND: last index dim ${q} must be static and <= rank ${x.rank}`);
  const shape = [...indices.shape.slice(0, -1), ...x.shape.slice(q)];
  return x.graph.addNode("gatherND", {}, [x, indices], [{ dtype: x.dtype, shape }])[0];
}

/** x with `updates` added at `indices` along `axis` (duplicates accumulate). */
export function scatterElementsAdd(x: Tensor, indices: Tensor, updates: Tensor, axis: number): Tensor {
  requireIndex(indices, "scatterElementsAdd");
  const ax = normAxis(axis, x.rank, "scatterElementsAdd");
  if (!shapeEq(indices.shape, updates.shape)) {
    throw new Error(`scatterElementsAdd: indices ${showShape(indices.shape)} and updates ${showShape(updates.shape)} differ`);
  }
  return x.graph.addNode("scatterElementsAdd", { axis: ax }, [x, indices, updates], [{ dtype: x.dtype, shape: x.shape }])[0];
}

/** x with `updates` added at the rows addressed by `indices` [..., q] (duplicates accumulate). */
export function scatterNDAdd(x: Tensor, indices: Tensor, updates: Tensor): Tensor {
  requireIndex(indices, "scatterNDAdd");
  const q = indices.shape[indices.rank - 1];
  if (typeof q !== "number" || q > x.rank)
    throw new Error(`scatterNDAdd: last index dim ${q} must be static and <= rank ${x.rank}`);
  const want = [...indices.shape.slice(0, -1), ...x.shape.slice(q)];
  if (!shapeEq(want, updates.shape))
    throw new Error(`scatterNDAdd: updates must be ${showShape(want)}, got ${showShape(updates.shape)}`);
  return x.graph.addNode("scatterNDAdd", {}, [x, indices, updates], [{ dtype: x.dtype, shape: x.shape }])[0];
}

// ---------------------------------------------------------------- fused (inference only)

/** Checks the shapes of a routed SwiGLU expert call; returns N and C. */
function checkExperts(what: string, x: Tensor, indices: Tensor, weights: Tensor, fc1: Tensor, fc2: Tensor) {
  if (x.rank !== 2 || indices.rank !== 2 || weights.rank !== 2 || fc1.rank !== 3 || fc2.rank !== 3) {
    throw new Error(`${what}: expected x [N, C], indices and weights [N, K], fc1 [E, 2H, C], fc2 [E, C, H]`);
  }
  const [n, c] = x.shape;
  if (indices.dtype !== "int64") throw new Error(`${what}: indices must be int64, got ${indices.dtype}`);
  if (
    !dimEq(indices.shape[0], n) ||
    !dimEq(weights.shape[0], n) ||
    !dimEq(indices.shape[1], weights.shape[1]) ||
    !dimEq(fc1.shape[2], c) ||
    !dimEq(fc2.shape[0], fc1.shape[0]) ||
    !dimEq(fc2.shape[1], c)
  ) {
    throw new Error(
      `${what}: shapes do not agree: x ${showShape(x.shape)}, indices ${showShape(indices.shape)}, weights ${showShape(weights.shape)}, fc1 ${showShape(fc1.shape)}, fc2 ${showShape(fc2.shape)}`,
    );
  }
  const twoH = fc1.shape[1];
  if (typeof twoH !== "number" || twoH !== 2 * (fc2.shape[2] as number))
    throw new Error(`${what}: fc1 must have 2H rows for fc2's H`);
  if (typeof indices.shape[1] !== "number") throw new Error(`${what}: the number of experts per token must be static`);
  return { n, c };
}

/**
 * Routed mixture of SwiGLU experts: out[n] = Σ_k weights[n, k] · W2_e (silu(gate_e) * up_e)(x[n])
 * with e = indices[n, k], fc1 rows interleaved as [gate_0, up_0, gate_1, up_1, ...].
 * Exported to ONNX Runtime's `com.microsoft.MoE` (sparse: only the chosen experts run).
 * x [N, C], indices int64 [N, K], weights [N, K], fc1 [E, 2H, C], fc2 [E, C, H] -> [N, C]. No gradient.
 */
export function moeSwiGlu(x: Tensor, indices: Tensor, weights: Tensor, fc1: Tensor, fc2: Tensor): Tensor {
  const { n, c } = checkExperts("moeSwiGlu", x, indices, weights, fc1, fc2);
  return x.graph.addNode("moeSwiGlu", {}, [x, indices, weights, fc1, fc2], [{ dtype: x.dtype, shape: [n, c] }])[0];
}

/**
 * x [..., K] @ dequant(w) with w int8 [K, N] and per-column scales [N] (symmetric, zero
 * point 0); x is quantized per call (ONNX Runtime's com.microsoft.DynamicQuantizeMatMul).
 */
export function dynamicQuantizeMatMul(x: Tensor, w: Tensor, scale: Tensor): Tensor {
  if (w.dtype !== "int8" || w.rank !== 2) throw new Error(`dynamicQuantizeMatMul: w must be int8 [K, N], got ${w}`);
  if (!dimEq(x.shape[x.rank - 1], w.shape[0]))
    throw new Error(`dynamicQuantizeMatMul: ${showShape(x.shape)} @ ${showShape(w.shape)}`);
  if (scale.rank !== 1 || !dimEq(scale.shape[0], w.shape[1])) throw new Error("dynamicQuantizeMatMul: scale must be [N]");
  const shape = [...x.shape.slice(0, -1), w.shape[1]];
  return x.graph.addNode("dynamicQuantizeMatMul", {}, [x, w, scale], [{ dtype: x.dtype, shape }])[0];
}

/**
 * Per-tensor asymmetric uint8 quantization of x, computed per call (ONNX DynamicQuantizeLinear):
 * x ~ (q - zeroPoint) * scale, with the range [min(x, 0), max(x, 0)] mapped onto 0..255.
 */
export function dynamicQuantizeLinear(x: Tensor): { q: Tensor; scale: Tensor; zeroPoint: Tensor } {
  if (x.dtype !== "float32") throw new Error(`dynamicQuantizeLinear: x must be float32, got ${x}`);
  const [q, scale, zeroPoint] = x.graph.addNode(
    "dynamicQuantizeLinear",
    {},
    [x],
    [
      { dtype: "uint8", shape: x.shape },
      { dtype: "float32", shape: [] },
      { dtype: "uint8", shape: [] },
    ],
  );
  return { q, scale, zeroPoint };
}

/**
 * (a - aZeroPoint) @ b, scaled to float: a uint8 [..., M, K] with a scalar scale and zero point
 * (from dynamicQuantizeLinear), b int8 [..., K, N] (symmetric) with scales bScale [..., 1, N]
 * per matrix and column; batch dims broadcast as in matmul (com.microsoft.MatMulIntegerToFloat).
 * Unlike dynamicQuantizeMatMul, b may be computed (e.g. gathered expert weights).
 */
export function matMulIntegerToFloat(a: Tensor, b: Tensor, aScale: Tensor, bScale: Tensor, aZeroPoint: Tensor): Tensor {
  if (a.dtype !== "uint8" || b.dtype !== "int8")
    throw new Error(`matMulIntegerToFloat: expected uint8 a and int8 b, got ${a} and ${b}`);
  if (a.rank < 2 || b.rank < 2 || !dimEq(a.shape[a.rank - 1], b.shape[b.rank - 2])) {
    throw new Error(`matMulIntegerToFloat: ${showShape(a.shape)} @ ${showShape(b.shape)}`);
  }
  if (bScale.rank !== b.rank || !dimEq(bScale.shape[b.rank - 1], b.shape[b.rank - 1]) || bScale.shape[b.rank - 2] !== 1) {
    throw new Error(`matMulIntegerToFloat: bScale ${showShape(bScale.shape)} must be [..., 1, N] for b ${showShape(b.shape)}`);
  }
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), "matMulIntegerToFloat batch");
  const shape = [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]];
  return a.graph.addNode("matMulIntegerToFloat", {}, [a, b, aScale, bScale, aZeroPoint], [{ dtype: "float32", shape }])[0];
}

/**
 * moeSwiGlu with 8-bit experts (ONNX Runtime's com.microsoft.QMoE): fc1 uint8 [E, 2H, C]
 * and fc2 uint8 [E, C, H], weight = (q - 128) * scale per output row; scales [E, 2H], [E, C].
 */
export function qmoeSwiGlu(
  x: Tensor,
  indices: Tensor,
  weights: Tensor,
  fc1: Tensor,
  fc1Scale: Tensor,
  fc2: Tensor,
  fc2Scale: Tensor,
): Tensor {
  if (fc1.dtype !== "uint8" || fc2.dtype !== "uint8") throw new Error("qmoeSwiGlu: expert weights must be uint8");
  const { n, c } = checkExperts("qmoeSwiGlu", x, indices, weights, fc1, fc2);
  return x.graph.addNode(
    "qmoeSwiGlu",
    {},
    [x, indices, weights, fc1, fc1Scale, fc2, fc2Scale],
    [{ dtype: x.dtype, shape: [n, c] }],
  )[0];
}

/**
 * Multi-head attention with a KV cache, fused (ONNX Runtime's com.microsoft.MultiHeadAttention):
 * q, k, v [B, T, C] (heads packed), bias [B, 1, T, P+T] added to the scores, past K/V
 * [B, H, P, D] -> output [B, T, C], present K/V [B, H, P+T, D]. No gradient.
 */
export function multiHeadAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  bias: Tensor,
  pastK: Tensor,
  pastV: Tensor,
  heads: number,
  scale: number,
): { out: Tensor; presentK: Tensor; presentV: Tensor } {
  const [b, t, c] = q.shape;
  if (q.rank !== 3 || typeof c !== "number" || c % heads !== 0)
    throw new Error(`multiHeadAttention: q must be [B, T, C] with C divisible by ${heads}`);
  if (!shapeEq(k.shape, q.shape) || !shapeEq(v.shape, q.shape))
    throw new Error("multiHeadAttention: q, k and v must have one shape");
  const total = dimAdd(pastK.shape[2], t);
  const present = [b, heads, total, c / heads];
  const [out, presentK, presentV] = q.graph.addNode(
    "multiHeadAttention",
    { heads, scale },
    [q, k, v, bias, pastK, pastV],
    [
      { dtype: q.dtype, shape: q.shape },
      { dtype: q.dtype, shape: present },
      { dtype: q.dtype, shape: present },
    ],
  );
  return { out, presentK, presentV };
}

/**
 * Rotary position embedding, rotate-half convention (ONNX Runtime's com.microsoft.RotaryEmbedding):
 * x [B, T, C] with C = heads * D, positions [B, T] int64, cos/sin tables [maxPos, D/2]. No gradient.
 */
export function rotaryEmbedding(x: Tensor, positions: Tensor, cos: Tensor, sin: Tensor, heads: number): Tensor {
  requireIndex(positions, "rotaryEmbedding");
  const c = x.shape[2];
  if (x.rank !== 3 || typeof c !== "number" || c % heads !== 0)
    throw new Error(`rotaryEmbedding: x must be [B, T, C] with C divisible by ${heads}`);
  if (!dimEq(cos.shape[1], c / heads / 2) || !shapeEq(cos.shape, sin.shape))
    throw new Error("rotaryEmbedding: cos and sin must be [maxPos, D/2]");
  return x.graph.addNode("rotaryEmbedding", { heads }, [x, positions, cos, sin], [{ dtype: x.dtype, shape: x.shape }])[0];
}

// ---------------------------------------------------------------- composites

export const square = (x: Tensor): Tensor => mul(x, x);
export const silu = (x: Tensor): Tensor => mul(x, sigmoid(x));

/** GELU, tanh approximation (exact enough for training, and float64-friendly). */
export function gelu(x: Tensor): Tensor {
  const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(x, 0.5), add(tanh(inner), 1));
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const ax = normAxis(axis, x.rank + 1, "unsqueeze");
  return reshape(x, [...x.shape.slice(0, ax), 1, ...x.shape.slice(ax)]);
}

export function squeeze(x: Tensor, axis: number): Tensor {
  const ax = normAxis(axis, x.rank, "squeeze");
  if (x.shape[ax] !== 1) throw new Error(`squeeze: axis ${ax} of ${showShape(x.shape)} is not 1`);
  return reshape(
    x,
    x.shape.filter((_, i) => i !== ax),
  );
}

/** Split a static axis into pieces of the given sizes. */
export function split(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  const ax = normAxis(axis, x.rank, "split");
  const n = x.shape[ax];
  if (sizes.reduce((a, b) => a + b, 0) !== n) throw new Error(`split: sizes [${sizes}] do not add up to ${n}`);
  let at = 0;
  return sizes.map((s) => {
    const piece = slice(x, ax, at, at + s);
    at += s;
    return piece;
  });
}

/** One-hot encoding of int64 indices into a new last axis of size `depth`. */
export function oneHot(indices: Tensor, depth: number, dtype: DType = "float32"): Tensor {
  requireIndex(indices, "oneHot");
  return cast(equal(unsqueeze(indices, -1), arange(indices.graph, depth)), dtype);
}

/**
 * The float32 weight W [n, k] an NF4 tensor stands for, built from primitives (the same
 * values MatMulBnb4 multiplies by, and nf4.ts's dequantizeNf4): each byte looks up
 * the levels of its two nibbles in 256-entry tables, then each block is scaled by its absmax.
 * matmulBnb4's gradient uses it.
 */
export function dequantizeBnb4(
  packed: Tensor,
  absmax: Tensor,
  opts: { k: number; n: number; blockSize: number; quantType?: Bnb4QuantType },
): Tensor {
  const { k, n, blockSize } = bnb4Attrs("dequantizeBnb4", packed, absmax, opts);
  const g = packed.graph;
  const numel = n * k;
  const blocks = absmax.shape[0] as number;
  const table = (nibble: (byte: number) => number) =>
    constant(
      g,
      Float32Array.from({ length: 256 }, (_, byte) => NF4_CODEBOOK[nibble(byte)]),
      [256],
    );
  const bytes = cast(packed, "int64"); // [P]
  const even = gather(
    table((byte) => byte >> 4),
    bytes,
  ); // [P]: flat indices 0, 2, 4, ...
  const odd = gather(
    table((byte) => byte & 0xf),
    bytes,
  ); // [P]: flat indices 1, 3, 5, ...
  const levels = slice(reshape(concat([unsqueeze(even, 1), unsqueeze(odd, 1)], 1), [-1]), 0, 0, numel); // [P, 2] -> [numel]
  const padded = pad(levels, 0, 0, blocks * blockSize - numel); // the last block may be short
  const scaled = mul(reshape(padded, [blocks, blockSize]), reshape(absmax, [blocks, 1])); // [blocks, blockSize]
  return reshape(slice(reshape(scaled, [-1]), 0, 0, numel), [n, k]);
}

/**
 * The absmaxes of double quantization (nf4.ts's dequantizeAbsmax, bit for bit):
 * (q - 128) * scale[i / blockSize] + offset, q uint8 [count], scale float32 [ceil(count / blockSize)].
 */
export function dequantizeAbsmax(q: Tensor, scale: Tensor, offset: TensorLike, blockSize: number): Tensor {
  const count = q.shape[0];
  if (q.dtype !== "uint8" || q.rank !== 1 || typeof count !== "number")
    throw new Error(`dequantizeAbsmax: q must be static uint8 [count], got ${q}`);
  const blocks = Math.ceil(count / blockSize);
  if (scale.dtype !== "float32" || scale.rank !== 1 || scale.shape[0] !== blocks)
    throw new Error(
      `dequantizeAbsmax: scale must be float32 [${blocks}] for ${count} codes in blocks of ${blockSize}, got ${scale}`,
    );
  const centred = pad(sub(cast(q, "float32"), ABSMAX_ZERO_POINT), 0, 0, blocks * blockSize - count); // [blocks * blockSize]
  const scaled = mul(reshape(centred, [blocks, blockSize]), reshape(scale, [blocks, 1]));
  return add(slice(reshape(scaled, [-1]), 0, 0, count), offset);
}

export const mean = reduceMean;
export const sum = reduceSum;
