// ONNX export: any set of graph outputs becomes one ModelProto (opset 18). Parameters
// become initializers when a value is supplied, graph inputs otherwise (training steps
// feed them every call). Symbolic dims become ONNX dim_params; reshapes and fills over
// them are computed at run time from the shapes of the graph inputs that carry them.

import onnxProto from "onnx-proto";
import { type Dim, dimCoeff, dimEq, dimSymbols, isStatic, normDim } from "./dims.js";
import { type DType, nodesFor, type Tensor, type TypedArray } from "./graph.js";
import { arrayOf, dtypeOfArray } from "./ops.js";

const { onnx } = onnxProto;
type NodeProto = InstanceType<typeof onnx.NodeProto>;
type AttrValue = number | number[] | string | { tensor: TypedArray; dims: number[] };

export const OPSET = 18;
const IR_VERSION = 8;

const onnxType: Record<DType, number> = { float32: 1, uint8: 2, int8: 3, bool: 9, int32: 6, int64: 7, float64: 11 };

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

function tensorProto(name: string, data: TypedArray, dims: readonly number[], dtype: DType = dtypeOfArray(data)) {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return onnx.TensorProto.create({ name, dataType: onnxType[dtype], dims: [...dims], rawData: raw });
}

function attribute(name: string, v: AttrValue) {
  if (typeof v === "number") {
    return Number.isInteger(v) && !name.startsWith("f:")
      ? onnx.AttributeProto.create({ name, type: 2, i: v })
      : onnx.AttributeProto.create({ name: name.replace(/^f:/, ""), type: 1, f: v });
  }
  if (typeof v === "string") return onnx.AttributeProto.create({ name, type: 3, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: 7, ints: v });
  return onnx.AttributeProto.create({ name, type: 4, t: tensorProto("", v.tensor, v.dims) });
}

function valueInfo(name: string, t: Tensor) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnxType[t.dtype],
        shape: { dim: t.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

export function toOnnx(opts: ExportOptions): OnnxModel {
  const outputEntries = Object.entries(opts.outputs);
  if (outputEntries.length === 0) throw new Error("toOnnx: no outputs given");
  const nodes = nodesFor(outputEntries.map(([, t]) => t));

  const protoNodes: NodeProto[] = [];
  const initializers: ReturnType<typeof tensorProto>[] = [];
  const dataInputs: ReturnType<typeof valueInfo>[] = [];
  const paramInputs: ReturnType<typeof valueInfo>[] = [];
  const names = new Map<number, string>();
  let counter = 0;
  const fresh = (hint: string) => `${hint}_${counter++}`;
  const nameOf = (t: Tensor) => {
    const n = names.get(t.id);
    if (n === undefined) throw new Error(`toOnnx: ${t} used before it was emitted`);
    return n;
  };
  let usesMsDomain = false;
  const emit = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, domain = "") => {
    protoNodes.push(
      onnx.NodeProto.create({
        opType,
        domain,
        input: inputs,
        output: outputs,
        name: fresh(opType),
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
  };
  const constInt64 = (values: readonly number[], hint = "c"): string => {
    const name = fresh(hint);
    initializers.push(
      tensorProto(
        name,
        BigInt64Array.from(values, (v) => BigInt(v)),
        [values.length],
      ),
    );
    return name;
  };

  // An output computed by a node is named after the output directly (no Identity copy);
  // inputs, parameters, constants and a tensor given as two outputs go through Identity.
  const directOutput = new Map<number, string>();
  for (const [name, t] of outputEntries) {
    const source = t.node.op === "input" || t.node.op === "param" || t.node.op === "constant";
    if (!source && !directOutput.has(t.id)) directOutput.set(t.id, name);
  }

  // Where each symbol can be read at run time: the first graph input with that dim.
  const symbolSource = new Map<string, { input: Tensor; axis: number }>();
  for (const node of nodes) {
    if (node.op !== "input") continue;
    node.outputs[0].shape.forEach((d, axis) => {
      if (typeof d === "string" && dimSymbols(d).length === 1 && normDim(d) === dimSymbols(d)[0] && !symbolSource.has(d)) {
        symbolSource.set(d, { input: node.outputs[0], axis });
      }
    });
  }
  const symbolCache = new Map<string, string>();
  const mulDims = (a: string, b: string): string => {
    const prod = fresh("dim");
    emit("Mul", [a, b], [prod]);
    return prod;
  };
  /** A 1-element int64 tensor holding a dim's run-time value. */
  const dimValue = (d: Dim): string => {
    if (typeof d === "number") return constInt64([d]);
    const cached = symbolCache.get(d);
    if (cached) return cached;
    let out: string | undefined;
    for (const s of dimSymbols(d)) {
      const src = symbolSource.get(s);
      if (!src)
        throw new Error(`toOnnx: symbolic dim "${s}" is not carried by any graph input, so its value is unknown at run time`);
      const v = fresh(`dim_${s}`);
      emit("Shape", [nameOf(src.input)], [v], { start: src.axis, end: src.axis + 1 });
      out = out === undefined ? v : mulDims(out, v);
    }
    if (dimCoeff(d) !== 1) out = mulDims(out!, constInt64([dimCoeff(d)]));
    symbolCache.set(d, out!);
    return out!;
  };
  /** An int64 shape tensor; `like` lets symbolic dims copy the input's dim (Reshape's 0). */
  const shapeTensor = (dims: readonly Dim[], like?: Tensor): string => {
    if (isStatic(dims)) return constInt64(dims as number[], "shape");
    if (like && dims.every((d, i) => typeof d === "number" || (i < like.rank && dimEq(d, like.shape[i])))) {
      return constInt64(
        dims.map((d) => (typeof d === "number" ? d : 0)),
        "shape",
      );
    }
    const parts = dims.map((d) => dimValue(d));
    const out = fresh("shape");
    emit("Concat", parts, [out], { axis: 0 });
    return out;
  };

  for (const node of nodes) {
    const outs = node.outputs.map((t) => {
      const n = node.op === "input" || node.op === "param" ? node.attrs.name : (directOutput.get(t.id) ?? `t${t.id}`);
      names.set(t.id, n);
      return n;
    });
    const ins = node.inputs.map(nameOf);
    const out = outs[0];
    switch (node.op) {
      case "input":
        dataInputs.push(valueInfo(out, node.outputs[0]));
        break;
      case "param": {
        const value = opts.paramValue?.(node.attrs.name);
        const t = node.outputs[0];
        if (value) {
          if (value.length !== t.shape.reduce<number>((a, d) => a * (d as number), 1)) {
            throw new Error(`toOnnx: value of parameter "${out}" has ${value.length} elements, shape is [${t.shape.join(", ")}]`);
          }
          initializers.push(tensorProto(out, value, t.shape as number[]));
        } else paramInputs.push(valueInfo(out, t));
        break;
      }
      case "constant":
        initializers.push(tensorProto(out, node.attrs.data, node.outputs[0].shape as number[], node.outputs[0].dtype));
        break;
      case "full": {
        const t = node.outputs[0];
        const value = { tensor: arrayOf(t.dtype, [node.attrs.value]), dims: [1] };
        emit("ConstantOfShape", [shapeTensor(t.shape)], [out], { value });
        break;
      }
      case "randomUniformLike":
        emit("RandomUniformLike", ins, [out], { "f:low": node.attrs.low, "f:high": node.attrs.high, "f:seed": node.attrs.seed });
        break;
      case "add":
      case "sub":
      case "mul":
      case "div":
      case "pow":
      case "neg":
      case "exp":
      case "log":
      case "sqrt":
      case "tanh":
      case "sigmoid":
      case "relu":
      case "equal":
      case "less":
      case "greater":
      case "where":
        emit(onnxName[node.op], ins, [out]);
        break;
      case "matmul":
        emit("MatMul", ins, [out]);
        break;
      case "cast":
        emit("Cast", ins, [out], { to: onnxType[node.attrs.to] });
        break;
      case "stopGradient":
        emit("Identity", ins, [out]);
        break;
      case "customVjp":
        emit("Identity", [ins[0]], [out]);
        break;
      case "softmax":
        emit("Softmax", ins, [out], { axis: node.attrs.axis });
        break;
      case "logSoftmax":
        emit("LogSoftmax", ins, [out], { axis: node.attrs.axis });
        break;
      case "reduceSum":
      case "reduceMean":
      case "reduceMax":
        emit(onnxName[node.op], [ins[0], constInt64(node.attrs.axes, "axes")], [out], { keepdims: node.attrs.keepDims ? 1 : 0 });
        break;
      case "cumSum":
        emit("CumSum", [ins[0], constInt64([node.attrs.axis], "axis")], [out], {
          exclusive: node.attrs.exclusive ? 1 : 0,
          reverse: node.attrs.reverse ? 1 : 0,
        });
        break;
      case "topK":
        emit("TopK", [ins[0], constInt64([node.attrs.k], "k")], outs, {
          axis: node.attrs.axis,
          largest: node.attrs.largest ? 1 : 0,
          sorted: 1,
        });
        break;
      case "conv2d":
        emit("Conv", ins, [out], {
          strides: node.attrs.strides,
          pads: node.attrs.pads,
          dilations: node.attrs.dilations,
          group: 1,
        });
        break;
      case "convTranspose2d":
        emit("ConvTranspose", ins, [out], {
          strides: node.attrs.strides,
          pads: node.attrs.pads,
          dilations: node.attrs.dilations,
          output_padding: node.attrs.outputPadding,
          group: 1,
        });
        break;
      case "reshape":
        emit("Reshape", [ins[0], shapeTensor(node.attrs.shape, node.inputs[0])], [out]);
        break;
      case "transpose":
        emit("Transpose", ins, [out], { perm: node.attrs.perm });
        break;
      case "concat":
        emit("Concat", ins, [out], { axis: node.attrs.axis });
        break;
      case "slice": {
        const { axis, start, end } = node.attrs;
        const ends = typeof end === "number" ? constInt64([end]) : dimValue(end);
        emit("Slice", [ins[0], constInt64([start]), ends, constInt64([axis])], [out]);
        break;
      }
      case "pad": {
        const rank = node.inputs[0].rank;
        const pads = new Array<number>(2 * rank).fill(0);
        pads[node.attrs.axis] = node.attrs.before;
        pads[rank + node.attrs.axis] = node.attrs.after;
        emit("Pad", [ins[0], constInt64(pads, "pads")], [out], { mode: "constant" });
        break;
      }
      case "expand":
        emit("Expand", [ins[0], shapeTensor(node.attrs.shape)], [out]);
        break;
      case "gather":
        emit("Gather", ins, [out], { axis: node.attrs.axis });
        break;
      case "gatherElements":
        emit("GatherElements", ins, [out], { axis: node.attrs.axis });
        break;
      case "gatherND":
        emit("GatherND", ins, [out]);
        break;
      case "scatterElementsAdd":
        emit("ScatterElements", ins, [out], { axis: node.attrs.axis, reduction: "add" });
        break;
      case "scatterNDAdd":
        emit("ScatterND", ins, [out], { reduction: "add" });
        break;
      case "moeSwiGlu":
      case "qmoeSwiGlu": {
        usesMsDomain = true;
        // ONNX Runtime's ops take router logits and pick top-k of softmax(logits) themselves:
        // hand them log(weight) at the chosen experts (log 0 = -inf elsewhere), so they pick
        // exactly these experts with weights w / sum(w), then multiply back by sum(w).
        const [x, indices, weights] = node.inputs;
        const experts = node.inputs[3].shape[0];
        const k = indices.shape[1] as number;
        const zeros = fresh("moe_zeros");
        emit("ConstantOfShape", [shapeTensor([x.shape[0], experts])], [zeros], {
          value: { tensor: Float32Array.of(0), dims: [1] },
        });
        const sparse = fresh("moe_sparse");
        emit("ScatterElements", [zeros, ins[1], ins[2]], [sparse], { axis: 1 });
        const logits = fresh("moe_logits");
        emit("Log", [sparse], [logits]);
        const mixed = fresh("moe_mixed");
        if (node.op === "moeSwiGlu") {
          emit("MoE", [ins[0], logits, ins[3], "", ins[4]], [mixed], swiGluMoeAttrs(k), "com.microsoft");
        } else {
          emit(
            "QMoE",
            [ins[0], logits, ins[3], ins[4], "", ins[5], ins[6]],
            [mixed],
            { ...swiGluMoeAttrs(k), expert_weight_bits: 8 },
            "com.microsoft",
          );
        }
        const total = fresh("moe_total");
        emit("ReduceSum", [nameOf(weights), constInt64([1], "axes")], [total], { keepdims: 1 });
        emit("Mul", [mixed, total], [out]);
        break;
      }
      case "multiHeadAttention":
        usesMsDomain = true;
        // inputs: query, key, value, bias, key_padding_mask, attention_bias, past_key, past_value.
        // The present outputs stay named even when unread: without them ONNX Runtime ignores the past.
        emit(
          "MultiHeadAttention",
          [ins[0], ins[1], ins[2], "", "", ins[3], ins[4], ins[5]],
          outs,
          {
            num_heads: node.attrs.heads,
            "f:scale": node.attrs.scale,
          },
          "com.microsoft",
        );
        break;
      case "rotaryEmbedding":
        usesMsDomain = true;
        emit("RotaryEmbedding", ins, [out], { num_heads: node.attrs.heads, interleaved: 0 }, "com.microsoft");
        break;
      case "dynamicQuantizeMatMul":
        usesMsDomain = true;
        emit("DynamicQuantizeMatMul", ins, [out], {}, "com.microsoft");
        break;
      case "dynamicQuantizeLinear":
        emit("DynamicQuantizeLinear", ins, outs);
        break;
      case "matMulIntegerToFloat":
        usesMsDomain = true;
        emit("MatMulIntegerToFloat", ins, [out], {}, "com.microsoft");
        break;
    }
  }

  const outputNames: string[] = [];
  const outputInfos = outputEntries.map(([name, t]) => {
    if (nameOf(t) !== name) emit("Identity", [nameOf(t)], [name]); // an input, a parameter or a repeated output
    outputNames.push(name);
    return valueInfo(name, t);
  });

  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: "aigc-studio",
    opsetImport: [{ domain: "", version: OPSET }, ...(usesMsDomain ? [{ domain: "com.microsoft", version: 1 }] : [])],
    graph: {
      name: opts.name ?? "graph",
      node: protoNodes,
      initializer: initializers,
      input: [...dataInputs, ...paramInputs],
      output: outputInfos,
    },
  });
  return {
    bytes: onnx.ModelProto.encode(model).finish(),
    inputNames: [...dataInputs, ...paramInputs].map((v) => v.name),
    outputNames,
    hasFloat64: nodes.some((n) => n.outputs.some((t) => t.dtype === "float64")),
  };
}

/** Attributes of ONNX Runtime's MoE / QMoE for plain SwiGLU experts. */
function swiGluMoeAttrs(k: number): Record<string, AttrValue> {
  return {
    k,
    activation_type: "swiglu",
    swiglu_fusion: 1, // fc1 rows interleaved: gate, up, gate, up, ...
    "f:activation_alpha": 1, // silu(gate) * (up + beta): plain SwiGLU with alpha 1, beta 0
    "f:activation_beta": 0,
    "f:swiglu_limit": 3.0e38,
    normalize_routing_weights: 0,
  };
}

const onnxName = {
  add: "Add",
  sub: "Sub",
  mul: "Mul",
  div: "Div",
  pow: "Pow",
  neg: "Neg",
  exp: "Exp",
  log: "Log",
  sqrt: "Sqrt",
  tanh: "Tanh",
  sigmoid: "Sigmoid",
  relu: "Relu",
  equal: "Equal",
  less: "Less",
  greater: "Greater",
  where: "Where",
  reduceSum: "ReduceSum",
  reduceMean: "ReduceMean",
  reduceMax: "ReduceMax",
} as const;
