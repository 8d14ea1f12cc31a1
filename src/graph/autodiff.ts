// Reverse-mode autodiff: one vector-Jacobian rule per primitive op, all in one table.
// A rule gets the node, the gradient of each output (null where none flows) and which
// inputs need a gradient; it returns one gradient (or null) per input. Rules build new
// nodes in the same graph, so the backward pass is exported and run like the forward.

import { type Dim, dimEq, showShape } from "./dims.js";
import type { ConvAttrs, Node, PrimOp, Tensor } from "./graph.js";
import { isFloat } from "./graph.js";
import * as op from "./ops.js";

type Grads = (Tensor | null)[];
type VjpRule<K extends PrimOp> = (node: Node<K>, dOut: (Tensor | null)[], needs: boolean[]) => Grads;
/** `null` marks an op that has no gradient (sources, comparisons, indices). */
type VjpTable = { [K in PrimOp]: VjpRule<K> | null };

/** Sum a broadcast gradient back down to `shape`. */
export function unbroadcast(gradient: Tensor, shape: readonly Dim[]): Tensor {
  const lead = gradient.rank - shape.length;
  const axes: number[] = [];
  gradient.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  const summed = axes.length > 0 ? op.reduceSum(gradient, axes, true) : gradient;
  return op.reshape(summed, shape);
}

const zerosLike = (x: Tensor): Tensor => op.full(x.graph, x.shape, 0, x.dtype);

/** Put the reduced axes back as size-1 axes and broadcast to the input's shape. */
function expandReduced(d: Tensor, node: Node<"reduceSum" | "reduceMean" | "reduceMax">): Tensor {
  const x = node.inputs[0];
  const kept = x.shape.map((dim, i) => (node.attrs.axes.includes(i) ? 1 : dim));
  return op.expand(op.reshape(d, kept), x.shape);
}

/**
 * Weight gradient of a convolution as another convolution: batch and channels swap
 * roles, stride and dilation swap. Returns [C(gradOut), C(input), kh, kw].
 */
function convWeightGrad(input: Tensor, gradOut: Tensor, a: ConvAttrs, kh: number, kw: number): Tensor {
  const x = op.transpose(input, [1, 0, 2, 3]); // [Cin, N, H, W]
  const g = op.transpose(gradOut, [1, 0, 2, 3]); // [Cout, N, Ho, Wo]
  const full = op.conv2d(x, g, { stride: a.dilations, dilation: a.strides, padding: a.pads }); // [Cin, Cout, >=kh, >=kw]
  return op.transpose(op.slice(op.slice(full, 2, 0, kh), 3, 0, kw), [1, 0, 2, 3]);
}

function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return inv;
}

export const vjpRules: VjpTable = {
  input: null,
  param: null,
  constant: null,
  full: null,
  randomUniformLike: null,
  equal: null,
  less: null,
  greater: null,
  stopGradient: null,
  moeSwiGlu: null, // inference only: training uses the capacity-dispatch graph
  qmoeSwiGlu: null, // int8 inference only
  multiHeadAttention: null, // inference only: training uses the composed attention
  rotaryEmbedding: null, // inference only: training uses the composed rotation
  dynamicQuantizeMatMul: null, // int8 inference only
  dynamicQuantizeLinear: null, // int8 inference only
  matMulIntegerToFloat: null, // int8 inference only

  add: ({ inputs: [a, b] }, [d], needs) => [
    needs[0] ? unbroadcast(d!, a.shape) : null,
    needs[1] ? unbroadcast(d!, b.shape) : null,
  ],
  sub: ({ inputs: [a, b] }, [d], needs) => [
    needs[0] ? unbroadcast(d!, a.shape) : null,
    needs[1] ? unbroadcast(op.neg(d!), b.shape) : null,
  ],
  mul: ({ inputs: [a, b] }, [d], needs) => [
    needs[0] ? unbroadcast(op.mul(d!, b), a.shape) : null,
    needs[1] ? unbroadcast(op.mul(d!, a), b.shape) : null,
  ],
  div: ({ inputs: [a, b], outputs: [y] }, [d], needs) => [
    needs[0] ? unbroadcast(op.div(d!, b), a.shape) : null,
    needs[1] ? unbroadcast(op.neg(op.div(op.mul(d!, y), b)), b.shape) : null,
  ],
  pow: ({ inputs: [a, b], outputs: [y] }, [d], needs) => [
    needs[0] ? unbroadcast(op.mul(op.mul(d!, b), op.pow(a, op.sub(b, 1))), a.shape) : null,
    needs[1] ? unbroadcast(op.mul(op.mul(d!, y), op.log(a)), b.shape) : null,
  ],
  neg: (_, [d]) => [op.neg(d!)],
  exp: ({ outputs: [y] }, [d]) => [op.mul(d!, y)],
  log: ({ inputs: [x] }, [d]) => [op.div(d!, x)],
  sqrt: ({ outputs: [y] }, [d]) => [op.div(op.mul(d!, 0.5), y)],
  tanh: ({ outputs: [y] }, [d]) => [op.mul(d!, op.sub(1, op.mul(y, y)))],
  sigmoid: ({ outputs: [y] }, [d]) => [op.mul(d!, op.mul(y, op.sub(1, y)))],
  relu: ({ inputs: [x] }, [d]) => [op.where(op.greater(x, 0), d!, 0)],
  where: ({ inputs: [c, a, b] }, [d], needs) => [
    null,
    needs[1] ? unbroadcast(op.where(c, d!, 0), a.shape) : null,
    needs[2] ? unbroadcast(op.where(c, 0, d!), b.shape) : null,
  ],
  cast: ({ inputs: [x] }, [d]) => [isFloat(x.dtype) ? op.cast(d!, x.dtype) : null],
  customVjp: (node, [d]) => [null, ...node.attrs.vjp(d!)],

  matmul: ({ inputs: [a, b] }, [d], needs) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (needs[0]) da = unbroadcast(op.matmul(d!, op.transposeLast(b)), a.shape);
    if (needs[1]) {
      if (b.rank === 2 && a.rank > 2) {
        // [..., M, K] x [K, N]: fold the batch into M so dB is one matmul, not a sum of many.
        const k = a.shape[a.rank - 1];
        const n = b.shape[1];
        db = op.matmul(op.transposeLast(op.reshape(a, [-1, k])), op.reshape(d!, [-1, n]));
      } else {
        db = unbroadcast(op.matmul(op.transposeLast(a), d!), b.shape);
      }
    }
    return [da, db];
  },
  // y = x @ Wᵀ, W [n, k] frozen 4-bit: dx = dY @ W. Not MatMulBnb4 with transB 0 (ONNX
  // Runtime 1.30's CPU kernel computes the wrong product there): W is dequantized in the graph,
  // bit for bit the values the forward multiplies by. Nothing flows into the codes or absmax.
  matmulBnb4: ({ attrs, inputs: [, packed, absmax] }, [d], needs) => {
    if (needs[2]) {
      throw new Error("matmulBnb4 gradient: absmax is a quantization constant and gets no gradient; wrap it in op.stopGradient");
    }
    return [needs[0] ? op.matmul(d!, op.dequantizeBnb4(packed, absmax, attrs)) : null, null, null];
  },
  softmax: ({ attrs: { axis }, outputs: [y] }, [d]) => {
    const dy = op.mul(d!, y);
    return [op.sub(dy, op.mul(y, op.reduceSum(dy, axis, true)))];
  },
  logSoftmax: ({ attrs: { axis }, outputs: [y] }, [d]) => [op.sub(d!, op.mul(op.exp(y), op.reduceSum(d!, axis, true)))],
  reduceSum: (node, [d]) => [expandReduced(d!, node)],
  reduceMean: (node, [d]) => {
    const x = node.inputs[0];
    const count = node.attrs.axes.reduce<Dim>(
      (n, a) => (typeof n === "number" && typeof x.shape[a] === "number" ? n * (x.shape[a] as number) : "?"),
      1,
    );
    if (typeof count !== "number") throw new Error(`reduceMean gradient: reduced axes of ${showShape(x.shape)} must be static`);
    return [op.div(expandReduced(d!, node), count)];
  },
  reduceMax: (node, [d]) => {
    // Ties share the gradient equally, so the rule is exact wherever it is defined.
    const x = node.inputs[0];
    const yKept = op.reshape(
      node.outputs[0],
      x.shape.map((dim, i) => (node.attrs.axes.includes(i) ? 1 : dim)),
    );
    const mask = op.cast(op.equal(x, yKept), x.dtype);
    const share = op.div(mask, op.reduceSum(mask, node.attrs.axes, true));
    return [op.mul(share, expandReduced(d!, node))];
  },
  cumSum: ({ attrs }, [d]) => [op.cumSum(d!, attrs.axis, { exclusive: attrs.exclusive, reverse: !attrs.reverse })],
  topK: ({ inputs: [x], outputs: [, indices], attrs }, [dValues]) => [
    dValues ? op.scatterElementsAdd(zerosLike(x), indices, dValues, attrs.axis) : null,
  ],
  conv2d: ({ inputs: [x, w], attrs, outputs: [y] }, [d], needs) => {
    const [kh, kw] = [w.shape[2] as number, w.shape[3] as number];
    let dx: Tensor | null = null;
    if (needs[0]) {
      // Rows the strided conv never reached come back as output padding.
      const reach = (ax: 0 | 1, k: number) =>
        attrs.strides[ax] * ((y.shape[2 + ax] as number) - 1) +
        attrs.dilations[ax] * (k - 1) +
        1 -
        attrs.pads[ax] -
        attrs.pads[ax + 2];
      const outputPadding: [number, number] = [(x.shape[2] as number) - reach(0, kh), (x.shape[3] as number) - reach(1, kw)];
      dx = op.convTranspose2d(d!, w, { stride: attrs.strides, padding: attrs.pads, dilation: attrs.dilations, outputPadding });
    }
    return [dx, needs[1] ? convWeightGrad(x, d!, attrs, kh, kw) : null];
  },
  convTranspose2d: ({ inputs: [x, w], attrs }, [d], needs) => [
    needs[0] ? op.conv2d(d!, w, { stride: attrs.strides, padding: attrs.pads, dilation: attrs.dilations }) : null,
    needs[1] ? convWeightGrad(d!, x, attrs, w.shape[2] as number, w.shape[3] as number) : null,
  ],

  reshape: ({ inputs: [x] }, [d]) => [op.reshape(d!, x.shape)],
  transpose: ({ attrs: { perm } }, [d]) => [op.transpose(d!, inversePerm(perm))],
  concat: ({ inputs, attrs: { axis } }, [d], needs) => {
    if (inputs.some((t) => typeof t.shape[axis] !== "number")) {
      throw new Error(`concat gradient: axis ${axis} is symbolic; train with static shapes`);
    }
    let at = 0;
    return inputs.map((t, k) => {
      const n = t.shape[axis] as number;
      const piece = needs[k] ? op.slice(d!, axis, at, at + n) : null;
      at += n;
      return piece;
    });
  },
  slice: ({ inputs: [x], attrs: { axis, start, end } }, [d]) => {
    if (typeof end !== "number")
      throw new Error(`slice gradient: the end of axis ${axis} is symbolic (${end}); train with static shapes`);
    return [op.pad(d!, axis, start, (x.shape[axis] as number) - end)];
  },
  pad: ({ inputs: [x], attrs: { axis, before } }, [d]) => [op.slice(d!, axis, before, before + (x.shape[axis] as number))],
  expand: ({ inputs: [x] }, [d]) => [unbroadcast(d!, x.shape)],

  gather: ({ inputs: [x, indices], attrs: { axis } }, [d]) => {
    // Move the gathered axis to the front, scatter-add rows, move it back.
    const r = indices.rank;
    const pre = Array.from({ length: axis }, (_, i) => i);
    const idx = Array.from({ length: r }, (_, i) => axis + i);
    const post = Array.from({ length: d!.rank - axis - r }, (_, i) => axis + r + i);
    const dFront = op.transpose(d!, [...idx, ...pre, ...post]);
    const xPerm = [axis, ...pre, ...x.shape.slice(axis + 1).map((_, i) => axis + 1 + i)];
    const zeros = op.full(
      x.graph,
      xPerm.map((p) => x.shape[p]),
      0,
      x.dtype,
    );
    const dxFront = op.scatterNDAdd(zeros, op.unsqueeze(indices, -1), dFront);
    return [op.transpose(dxFront, inversePerm(xPerm)), null];
  },
  gatherElements: ({ inputs: [x, indices], attrs: { axis } }, [d]) => [
    op.scatterElementsAdd(zerosLike(x), indices, d!, axis),
    null,
  ],
  gatherND: ({ inputs: [x, indices] }, [d]) => [op.scatterNDAdd(zerosLike(x), indices, d!), null],
  scatterElementsAdd: ({ inputs: [, indices], attrs: { axis } }, [d], needs) => [
    d,
    null,
    needs[2] ? op.gatherElements(d!, indices, axis) : null,
  ],
  scatterNDAdd: ({ inputs: [, indices] }, [d], needs) => [d, null, needs[2] ? op.gatherND(d!, indices) : null],
};

/** Ops with a gradient rule (every other op is a source or has integer/bool outputs). */
export const differentiableOps = (Object.keys(vjpRules) as PrimOp[]).filter((k) => vjpRules[k] !== null);

function applyRule(node: Node, dOut: (Tensor | null)[], needs: boolean[]): Grads {
  const rule = vjpRules[node.op] as VjpRule<PrimOp> | null;
  if (rule === null) return node.inputs.map(() => null);
  return rule(node, dOut, needs);
}

/**
 * Gradients of `loss` with respect to each tensor in `wrt`. Only nodes that lie on a
 * path from some `wrt` to `loss` are differentiated; a `wrt` the loss does not depend
 * on gets zeros. `seed` is the gradient of the loss (ones for a scalar loss).
 */
export function grad(loss: Tensor, wrt: readonly Tensor[], seed?: Tensor): Tensor[] {
  const g = loss.graph;
  if (!isFloat(loss.dtype)) throw new Error(`grad: loss must be a float tensor, got ${loss.dtype}`);
  if (!seed && loss.rank !== 0)
    throw new Error(`grad: loss must be a scalar, got ${showShape(loss.shape)}; reduce it or pass a seed`);
  if (seed && (seed.rank !== loss.rank || !seed.shape.every((d, i) => dimEq(d, loss.shape[i])))) {
    throw new Error(`grad: seed shape ${showShape(seed.shape)} differs from loss shape ${showShape(loss.shape)}`);
  }

  // Which tensors depend on a wrt tensor (forward sweep; node order is topological).
  const depends = new Set<number>(wrt.map((t) => t.id));
  for (const node of g.nodes) {
    if (node.id > loss.node.id) break;
    if (node.op === "stopGradient" || vjpRules[node.op] === null) continue;
    if (node.inputs.some((t) => depends.has(t.id) && isFloat(t.dtype))) for (const t of node.outputs) depends.add(t.id);
  }

  const grads = new Map<number, Tensor>();
  const accumulate = (t: Tensor, d: Tensor) => {
    const prev = grads.get(t.id);
    grads.set(t.id, prev ? op.add(prev, d) : d);
  };
  accumulate(loss, seed ?? op.full(g, [], 1, loss.dtype));

  for (let i = loss.node.id; i >= 0; i--) {
    const node = g.nodes[i];
    const dOut = node.outputs.map((t) => grads.get(t.id) ?? null);
    if (dOut.every((d) => d === null)) continue;
    const needs = node.inputs.map((t) => depends.has(t.id) && isFloat(t.dtype));
    if (!needs.some(Boolean)) continue;
    const dIn = applyRule(node, dOut, needs);
    node.inputs.forEach((t, k) => {
      const d = dIn[k];
      if (d && needs[k]) accumulate(t, d);
    });
  }
  return wrt.map((t) => grads.get(t.id) ?? zerosLike(t));
}
