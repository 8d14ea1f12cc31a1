// The digital human's emotion classifier: text (English or Chinese) -> one of the face
// rig's EMOTIONS with an intensity in [0, 1], its probabilities and a valence.

export {
  EMOTION_VALENCE,
  EmotionClassifier,
  EmotionInputError,
  EmotionModelError,
  type EmotionPrediction,
  loadEmotionClassifier,
  MAX_TEXT_LENGTH,
  SHIPPED_EMOTION_MODEL_DIR,
} from "./classifier.js";
export {
  afinnScore,
  type EmotionEvaluation,
  evaluateEmotionClassifier,
  type PolarityReport,
  polarityReport,
  vaderCompound,
} from "./evaluate.js";
export { featurize, normalizeText, tokenize } from "./featurize.js";
export { type EmotionSample, EmotionSentenceGenerator, type Language } from "./generator.js";
export {
  EvaluationDataError,
  type PolaritySentence,
  type ReviewSentence,
  readAmazonSentences,
  readReviewSentences,
  reviewSplit,
} from "./realSentences.js";
export {
  DEFAULT_EMOTION_SEED,
  DEFAULT_REVIEW_SHARE,
  defaultEmotionModelConfig,
  type TrainEmotionModelOptions,
  trainEmotionModel,
} from "./train.js";
export { VALIDATION_SET } from "./validationSet.js";
