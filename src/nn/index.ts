export * from "./attention.js";
export * from "./layers.js";
export * from "./lora.js";
export * from "./moe.js";
export { Scope } from "./scope.js";
export {
  addPositionEmbedding,
  convStemEmbedding,
  l2Normalize,
  maxPool,
  meanPool,
  patchEmbedding,
  prependClsToken,
  transformerEncoder,
} from "./vision.js";
