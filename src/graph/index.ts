export * from "./dims.js";
export * from "./graph.js";
export * as op from "./ops.js";
export { grad, differentiableOps, vjpRules, unbroadcast } from "./autodiff.js";
export { toOnnx, OPSET, type ExportOptions, type OnnxModel } from "./onnx.js";
