// The ONNX graph that toOnnx assembles: protobuf values (tensors, attributes, value infos),
// nodes, initializers, graph inputs and outputs, fresh names, and the int64 shape tensors
// that reshapes and fills over symbolic dims read at run time. Names and initializers are
// numbered in the order they are asked for, so the same calls always give the same bytes.

import onnxProto from "onnx-proto";
import { type Dim, dimCoeff, dimEq, dimSymbols, isStatic, normDim } from "./dims.js";
import type { AnyNode, DType, Tensor, TypedArray } from "./graph.js";
import { dtypeOfArray } from "./ops.js";

const { onnx } = onnxProto;
const { AttributeType } = onnx.AttributeProto;
const { DataType } = onnx.TensorProto;
type NodeProto = InstanceType<typeof onnx.NodeProto>;
type TensorProto = InstanceType<typeof onnx.TensorProto>;
type ValueInfoProto = InstanceType<typeof onnx.ValueInfoProto>;

const IR_VERSION = 8;
/** ONNX Runtime's contrib ops (MoE, MultiHeadAttention, ...). */
const MS_DOMAIN = "com.microsoft";

export const onnxType: Record<DType, number> = {
  float32: DataType.FLOAT,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
  bool: DataType.BOOL,
  int32: DataType.INT32,
  int64: DataType.INT64,
  float64: DataType.DOUBLE,
};

// ---------------------------------------------------------------- attribute values

export interface FloatAttr {
  float: number;
}
export interface TensorAttr {
  tensor: TypedArray;
  dims: number[];
}
/** A plain number is an int attribute when it is an integer, a float one otherwise. */
export type AttrValue = number | number[] | string | FloatAttr | TensorAttr;

/** A float attribute even when the value is an integer (ONNX types some, e.g. a seed, as float). */
export const floatAttr = (value: number): FloatAttr => ({ float: value });
/** A boolean as the 0/1 int attribute ONNX takes. */
export const flagAttr = (on: boolean): number => (on ? 1 : 0);
/** A one-element tensor attribute (ConstantOfShape's fill value). */
export const scalarTensorAttr = (data: TypedArray): TensorAttr => ({ tensor: data, dims: [1] });

function tensorProto(name: string, data: TypedArray, dims: readonly number[], dtype: DType = dtypeOfArray(data)): TensorProto {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return onnx.TensorProto.create({ name, dataType: onnxType[dtype], dims: [...dims], rawData: raw });
}

function attributeProto(name: string, value: AttrValue) {
  if (typeof value === "number") {
    return Number.isInteger(value)
      ? onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value })
      : onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value });
  }
  if (typeof value === "string")
    return onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: new TextEncoder().encode(value) });
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: value });
  if ("float" in value) return onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value.float });
  return onnx.AttributeProto.create({ name, type: AttributeType.TENSOR, t: tensorProto("", value.tensor, value.dims) });
}

function valueInfo(name: string, tensor: Tensor): ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnxType[tensor.dtype],
        shape: { dim: tensor.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

// ---------------------------------------------------------------- the graph being built

export class OnnxGraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly dataInputs: ValueInfoProto[] = [];
  private readonly paramInputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private usesMsDomain = false;
  private counter = 0;
  private readonly names = new Map<number, string>();
  /** Where each symbol can be read at run time: the first graph input with that dim. */
  private readonly symbolSource = new Map<string, { input: Tensor; axis: number }>();
  private readonly dimCache = new Map<string, string>();

  /**
   * `graphNodes` are the nodes to export (their graph inputs carry the symbolic dims);
   * `paramValue` gives the values of parameters embedded as initializers.
   */
  constructor(
    graphNodes: readonly AnyNode[],
    readonly paramValue?: (name: string) => TypedArray | undefined,
  ) {
    for (const node of graphNodes) {
      if (node.op !== "input") continue;
      node.outputs[0].shape.forEach((d, axis) => {
        if (typeof d === "string" && dimSymbols(d).length === 1 && normDim(d) === dimSymbols(d)[0] && !this.symbolSource.has(d)) {
          this.symbolSource.set(d, { input: node.outputs[0], axis });
        }
      });
    }
  }

  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  /** Record the ONNX name of a graph tensor; returns it. */
  bind(tensor: Tensor, name: string): string {
    this.names.set(tensor.id, name);
    return name;
  }

  nameOf(tensor: Tensor): string {
    const name = this.names.get(tensor.id);
    if (name === undefined) throw new Error(`toOnnx: ${tensor} used before it was emitted`);
    return name;
  }

  /** One node of the standard ONNX domain ("" marks an omitted optional input). */
  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, domain = ""): void {
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        domain,
        input: inputs,
        output: outputs,
        name: this.fresh(opType),
        attribute: Object.entries(attrs).map(([name, value]) => attributeProto(name, value)),
      }),
    );
  }

  /** One node of ONNX Runtime's com.microsoft domain. */
  contribNode(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): void {
    this.usesMsDomain = true;
    this.node(opType, inputs, outputs, attrs, MS_DOMAIN);
  }

  initializer(name: string, data: TypedArray, dims: readonly number[], dtype?: DType): void {
    this.initializers.push(tensorProto(name, data, dims, dtype));
  }

  /** A 1-d int64 initializer holding `values`; returns its fresh name. */
  int64Initializer(values: readonly number[], hint = "c"): string {
    const name = this.fresh(hint);
    this.initializer(
      name,
      BigInt64Array.from(values, (v) => BigInt(v)),
      [values.length],
    );
    return name;
  }

  /** A data input, fed every run. */
  dataInput(name: string, tensor: Tensor): void {
    this.dataInputs.push(valueInfo(name, tensor));
  }

  /** A parameter without a value: a graph input after the data inputs. */
  paramInput(name: string, tensor: Tensor): void {
    this.paramInputs.push(valueInfo(name, tensor));
  }

  /** A graph output; copied through Identity when the tensor already has another name. */
  output(name: string, tensor: Tensor): void {
    if (this.nameOf(tensor) !== name) this.node("Identity", [this.nameOf(tensor)], [name]);
    this.outputs.push(valueInfo(name, tensor));
  }

  /** A 1-element int64 tensor holding a dim's run-time value. */
  dimValue(dim: Dim): string {
    if (typeof dim === "number") return this.int64Initializer([dim]);
    const cached = this.dimCache.get(dim);
    if (cached) return cached;
    let value: string | undefined;
    for (const symbol of dimSymbols(dim)) {
      const src = this.symbolSource.get(symbol);
      if (!src)
        throw new Error(
          `toOnnx: symbolic dim "${symbol}" is not carried by any graph input, so its value is unknown at run time`,
        );
      const read = this.fresh(`dim_${symbol}`);
      this.node("Shape", [this.nameOf(src.input)], [read], { start: src.axis, end: src.axis + 1 });
      value = value === undefined ? read : this.mulDims(value, read);
    }
    if (dimCoeff(dim) !== 1) value = this.mulDims(value!, this.int64Initializer([dimCoeff(dim)]));
    this.dimCache.set(dim, value!);
    return value!;
  }

  /** An int64 shape tensor; `like` lets symbolic dims copy the input's dim (Reshape's 0). */
  shapeTensor(dims: readonly Dim[], like?: Tensor): string {
    if (isStatic(dims)) return this.int64Initializer(dims, "shape");
    if (like && dims.every((d, i) => typeof d === "number" || (i < like.rank && dimEq(d, like.shape[i])))) {
      return this.int64Initializer(
        dims.map((d) => (typeof d === "number" ? d : 0)),
        "shape",
      );
    }
    const parts = dims.map((d) => this.dimValue(d));
    const shape = this.fresh("shape");
    this.node("Concat", parts, [shape], { axis: 0 });
    return shape;
  }

  private mulDims(left: string, right: string): string {
    const product = this.fresh("dim");
    this.node("Mul", [left, right], [product]);
    return product;
  }

  /** Names of the graph inputs in file order: data inputs, then parameters fed at run time. */
  inputNames(): string[] {
    return [...this.dataInputs, ...this.paramInputs].map((v) => v.name);
  }

  /** The serialized ModelProto. */
  encode(modelName: string, opset: number): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: "aigc-studio",
      opsetImport: [{ domain: "", version: opset }, ...(this.usesMsDomain ? [{ domain: MS_DOMAIN, version: 1 }] : [])],
      graph: {
        name: modelName,
        node: this.nodes,
        initializer: this.initializers,
        input: [...this.dataInputs, ...this.paramInputs],
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
