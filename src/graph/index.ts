export { differentiableOps, grad, unbroadcast, vjpRules } from "./autodiff.js";
export * from "./dims.js";
export * from "./graph.js";
export {
  ABSMAX_BLOCK_SIZE,
  BNB4_BLOCK_SIZES,
  dequantizeAbsmax,
  dequantizeNf4,
  NF4_BLOCK_SIZE,
  NF4_CODEBOOK,
  type Nf4Tensor,
  nf4Bits,
  nf4Sizes,
  type QuantizedAbsmax,
  quantizeAbsmax,
  quantizeNf4,
} from "./nf4.js";
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
