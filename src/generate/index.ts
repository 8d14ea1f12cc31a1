// Decoding: samplers, stop strings and streaming text, batched generation over a DecodeModel.

export * as constraints from "./constraints/index.js";
export {
  type ByteAutomaton,
  budgetedMask,
  constrainedMask,
  generalWordsFromTexts,
  intersect,
  type JsonSchema,
  JsonSchemaError,
  jsonSchemaAutomaton,
  type Lexicon,
  lexiconFromTerms,
  loadMedicalWordList,
  sectionAutomaton,
  TokenMasker,
  type TokenVocabulary,
  type ToolSpec,
  terminologyAutomaton,
  termValidity,
  textOrToolCall,
  tokenMaskFor,
  toolCallAutomaton,
  toolCallHeader,
  utf8TextAutomaton,
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
  type TokenLogprobs,
} from "./generate.js";
export { logprobsOf, type SampledLogprobs, type TokenLogprob } from "./logprobs.js";
export {
  applyMask,
  applyRepetitionPenalty,
  applyTemperature,
  greedy,
  type LogitsMask,
  minPFilter,
  type SamplingParams,
  sampledLogits,
  sampleFromLogits,
  sampleToken,
  samplingDefaults,
  softmax,
  topKFilter,
  topPFilter,
} from "./sampling.js";
export { findStop, partialStopLength, replacementChar, StopMatcher, type StopUpdate, trailingReplacementCount } from "./stops.js";
export { type ReplyEvent, ToolCallReplyParser } from "./toolCallText.js";
