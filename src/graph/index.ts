export { differentiableOps, grad, unbroadcast, vjpRules } from "./autodiff.js";
export * from "./dims.js";
export * from "./graph.js";
export { type ExportOptions, type OnnxModel, OPSET, toOnnx } from "./onnx.js";
export * as op from "./ops.js";
export {
  INT8_WEIGHT_MAX,
  type QuantizeReport,
  quantizableWeights,
  quantizeColumns,
  quantizeInt8,
  quantizeRowsUint8,
} from "./quantize.js";
