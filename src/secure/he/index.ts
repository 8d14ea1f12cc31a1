// Encrypted inference with CKKS (Microsoft SEAL via node-seal): the public surface.
// Browser-safe pieces: client, slotLayout, params, codec, request, seal, runtime, evaluate.
// Node-only pieces: server (node:crypto), modelStore (node:fs), planner, bench helpers.

export {
  HeClient,
  type HeInferRequest,
  type HeInferResponse,
  type HeKeySet,
  type HeModelCard,
  type HePublicKeys,
  modelCard,
  publicKeys,
} from "./client.js";
export { base64Bytes, checkSealBase64 } from "./codec.js";
export { evaluateModel, type HeOpCounts, layoutFor, opCounts } from "./evaluate.js";
export { heAssetsDir, loadShippedModel, loadShippedModels, parseHeModel, shippedModelNames } from "./modelStore.js";
export {
  ckks8192,
  createContext,
  type HeParams,
  heParamsSchema,
  heStandardMaxBits128,
  multiplicativeDepth,
  scaleOf,
  slotCount,
  totalModulusBits,
} from "./params.js";
export { calibrateOpCosts, type HeOpCosts, type HePlan, planModel } from "./planner.js";
export { type InferRequestBody, inferLimits, inferRequestSchema } from "./request.js";
export { galoisElement, type HeRuntime, heRuntime } from "./runtime.js";
export { loadSeal, SealScope, withSeal } from "./seal.js";
export { HeRequestError, HeServer, type HeServerOptions } from "./server.js";
export { galoisStepsFor, modelWidth, packSamples, type SlotLayout, slotLayout, unpackScores } from "./slotLayout.js";
