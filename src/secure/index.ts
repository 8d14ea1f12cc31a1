// Security layer: homomorphic encryption (CKKS) for encrypted inference. PHI/PII detection,
// copyright and bias checks come with later issues.

export * as he from "./he/index.js";
export * from "./pii/index.js";
