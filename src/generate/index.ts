// Decoding: samplers, stop strings and streaming text, batched generation over a DecodeModel.

export * as constraints from "./constraints/index.js";
export {
  constrainedMask,
  generalWordsFromTexts,
  intersect,
  type Lexicon,
  lexiconFromTerms,
  loadMedicalWordList,
  sectionAutomaton,
  type TokenMasker,
  terminologyAutomaton,
  termValidity,
  tokenMaskFor,
  vocabularyFromBpe,
} from "./constraints/index.js";
export { type BatcherLoad, ContinuousBatcher, type ContinuousBatcherOptions, continuousBatcherDefaults } from "./continuous.js";
export {
  type BatchDecodeModel,
  type BatchDecodeSession,
  type DecodeModel,
  type DecodeSession,
  type FinishReason,
  GenerateError,
  GenerateOptions,
  type GenerateResult,
  generate,
  generateDefaults,
  generateStream,
  type ResolvedGenerateOptions,
  type StreamChunk,
} from "./generate.js";
export {
  applyMask,
  applyRepetitionPenalty,
  applyTemperature,
  greedy,
  type LogitsMask,
  minPFilter,
  type SamplingParams,
  sampleFromLogits,
  sampleToken,
  samplingDefaults,
  softmax,
  topKFilter,
  topPFilter,
} from "./sampling.js";
export { findStop, partialStopLength, replacementChar, StopMatcher, type StopUpdate, trailingReplacementCount } from "./stops.js";
