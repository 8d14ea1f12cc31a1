// Security layer: homomorphic encryption (CKKS) for encrypted inference. PHI/PII detection,
// copyright and bias checks come with later issues.

export * as he from "./he/index.js";
export {
  base64Bytes,
  calibrateOpCosts,
  ckks8192,
  HeClient,
  type HeInferRequest,
  type HeInferResponse,
  type HeKeySet,
  type HeOpCosts,
  type HePlan,
  HeRequestError,
  HeServer,
  loadShippedModel,
  loadShippedModels,
  modelCard,
  planModel,
} from "./he/index.js";
export * from "./pii/index.js";
