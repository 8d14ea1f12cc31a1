// The IR: a graph of nodes in creation order (which is a topological order, since a
// node can only use tensors that already exist). Tensors are typed handles with a
// dtype and a static shape; every node keeps its primitive op tag and attributes so
// the graph can be differentiated and exported.

import { type Dim, normDim, type Shape } from "./dims.js";

export type DType = "float32" | "float64" | "int64" | "int32" | "int8" | "uint8" | "bool";
export const isFloat = (dtype: DType): boolean => dtype === "float32" || dtype === "float64";

export type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/** How a parameter is initialised from the store's seed. */
export type Init =
  | { kind: "normal"; std: number }
  | { kind: "uniform"; low: number; high: number }
  | { kind: "constant"; value: number };

export interface ConvAttrs {
  strides: [number, number];
  pads: [number, number, number, number]; // top, left, bottom, right
  dilations: [number, number];
}

/** The closed set of primitive ops and their attributes. Everything else is composed. */
/** Attributes of matmulBnb4 (4-bit bitsandbytes weights, com.microsoft.MatMulBnb4). */
export interface Bnb4Attrs {
  /** In features: the weight is [n, k] = [out, in]. */
  k: number;
  /** Out features. */
  n: number;
  blockSize: number;
  quantType: Bnb4QuantType;
}
export type Bnb4QuantType = "nf4";

export interface OpAttrs {
  input: { name: string };
  param: { name: string; trainable: boolean; init: Init };
  constant: { data: TypedArray };
  full: { value: number };
  randomUniformLike: { low: number; high: number; seed: number };
  // elementwise
  add: Record<string, never>;
  sub: Record<string, never>;
  mul: Record<string, never>;
  div: Record<string, never>;
  pow: Record<string, never>;
  neg: Record<string, never>;
  exp: Record<string, never>;
  log: Record<string, never>;
  sqrt: Record<string, never>;
  tanh: Record<string, never>;
  sigmoid: Record<string, never>;
  relu: Record<string, never>;
  equal: Record<string, never>;
  less: Record<string, never>;
  greater: Record<string, never>;
  where: Record<string, never>;
  cast: { to: DType };
  stopGradient: Record<string, never>;
  customVjp: { vjp: (dOut: Tensor) => (Tensor | null)[] };
  // contractions and normalisers
  matmul: Record<string, never>;
  softmax: { axis: number };
  logSoftmax: { axis: number };
  reduceSum: { axes: number[]; keepDims: boolean };
  reduceMean: { axes: number[]; keepDims: boolean };
  reduceMax: { axes: number[]; keepDims: boolean };
  cumSum: { axis: number; exclusive: boolean; reverse: boolean };
  topK: { k: number; axis: number; largest: boolean };
  conv2d: ConvAttrs;
  convTranspose2d: ConvAttrs & { outputPadding: [number, number] };
  // layout
  reshape: { shape: Dim[] };
  transpose: { perm: number[] };
  concat: { axis: number };
  slice: { axis: number; start: number; end: Dim };
  pad: { axis: number; before: number; after: number };
  expand: { shape: Dim[] };
  // indexing
  gather: { axis: number };
  gatherElements: { axis: number };
  gatherND: Record<string, never>;
  scatterElementsAdd: { axis: number };
  scatterNDAdd: Record<string, never>;
  // fused, inference only (exported to ONNX Runtime contrib ops)
  moeSwiGlu: Record<string, never>;
  qmoeSwiGlu: Record<string, never>;
  matmulBnb4: Bnb4Attrs;
  multiHeadAttention: { heads: number; scale: number };
  rotaryEmbedding: { heads: number };
  dynamicQuantizeMatMul: Record<string, never>;
  dynamicQuantizeLinear: Record<string, never>;
  matMulIntegerToFloat: Record<string, never>;
}
export type PrimOp = keyof OpAttrs;

export interface Node<K extends PrimOp = PrimOp> {
  readonly id: number;
  readonly op: K;
  readonly attrs: OpAttrs[K];
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
}
/** A node of any op, narrowed by a `switch (node.op)`. */
export type AnyNode = { [K in PrimOp]: Node<K> }[PrimOp];

export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly dtype: DType,
    readonly shape: readonly Dim[],
    readonly node: AnyNode,
    readonly index: number,
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `Tensor#${this.id}<${this.dtype}>[${this.shape.join(", ")}] from ${this.node.op}`;
  }
}

export interface OutputSpec {
  dtype: DType;
  shape: Shape;
}

export class Graph {
  readonly nodes: AnyNode[] = [];
  readonly inputs = new Map<string, Tensor>();
  readonly params = new Map<string, Tensor>();
  private nextTensorId = 0;

  /** Append a node; shape inference has already happened in the op builder. */
  addNode<K extends PrimOp>(op: K, attrs: OpAttrs[K], inputs: readonly Tensor[], outputs: readonly OutputSpec[]): Tensor[] {
    for (const t of inputs) {
      if (t.graph !== this) throw new Error(`${op}: input ${t} belongs to another graph`);
    }
    const outs: Tensor[] = [];
    const node = { id: this.nodes.length, op, attrs, inputs, outputs: outs } as unknown as AnyNode;
    outputs.forEach((o, i) => {
      outs.push(new Tensor(this, this.nextTensorId++, o.dtype, o.shape.map(normDim), node, i));
    });
    this.nodes.push(node);
    return outs;
  }

  /** A named graph input (data fed at run time); symbolic dims allowed. */
  input(name: string, dtype: DType, shape: Shape): Tensor {
    if (this.inputs.has(name) || this.params.has(name)) throw new Error(`input "${name}" is already defined in this graph`);
    const [t] = this.addNode("input", { name }, [], [{ dtype, shape }]);
    this.inputs.set(name, t);
    return t;
  }

  /** A named parameter. Values live in a ParamStore; the graph only knows shape and init. */
  param(name: string, shape: readonly number[], init: Init, opts: { trainable?: boolean; dtype?: DType } = {}): Tensor {
    if (this.inputs.has(name) || this.params.has(name)) throw new Error(`parameter "${name}" is already defined in this graph`);
    for (const d of shape) {
      if (!Number.isInteger(d) || d <= 0)
        throw new Error(`parameter "${name}": shape [${shape.join(", ")}] must be positive integers`);
    }
    const [t] = this.addNode(
      "param",
      { name, trainable: opts.trainable ?? true, init },
      [],
      [{ dtype: opts.dtype ?? "float32", shape }],
    );
    this.params.set(name, t);
    return t;
  }

  /** Parameters the optimiser updates (frozen ones are left out). */
  trainableParams(): Tensor[] {
    return [...this.params.values()].filter((p) => p.node.op === "param" && p.node.attrs.trainable);
  }
}

/** Nodes needed to compute `outputs`, in topological (creation) order. */
export function nodesFor(outputs: readonly Tensor[]): AnyNode[] {
  if (outputs.length === 0) return [];
  const seen = new Set<number>();
  const stack = outputs.map((t) => t.node);
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node.id)) continue;
    seen.add(node.id);
    for (const t of node.inputs) stack.push(t.node);
  }
  return outputs[0].graph.nodes.filter((n) => seen.has(n.id));
}
