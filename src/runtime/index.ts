// Runtime layer: ONNX Runtime sessions (compile, run), the train-step executor and the
// inference evaluator, the parameter store, safetensors files, model folders (the one atomic
// writer), checkpoints, the one seeded RNG, and zod issues as one-line sentences (for every
// boundary above). The public surface of src/runtime.

export { loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
export { Evaluator } from "./evaluator.js";
export {
  dequantize,
  type GgmlType,
  GgufError,
  type GgufFile,
  type GgufTensorInfo,
  type GgufValue,
  gguf,
  readGgufHeader,
  readGgufTensor,
  writeGguf,
} from "./gguf.js";
export { jsonFile, type ModelFile, readModelConfig, readModelWeights, writeModelFolder } from "./modelFolder.js";
export { ParamStore, storeTensors } from "./params.js";
export { hash32, hashString, Rng } from "./rng.js";
export { float32ToFloat16, readSafetensors, type SafeTensor } from "./safetensors.js";
export { type CompiledGraph, compile, defaultThreads, type HostTensor, ortVersion } from "./session.js";
export { TrainStep, type TrainStepOptions } from "./trainStep.js";
export {
  describeIssue,
  describeKind,
  describeValue,
  formatPath,
  type IssueDescription,
  type IssueLineOptions,
  issueLine,
  issueLines,
  type ParsedInput,
  safeParseInput,
} from "./zodIssues.js";
