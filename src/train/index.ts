// Training: losses, loops, schedules, checkpoints and every recipe. The public surface of src/train.

export {
  ALIGN_PRESET_NAMES,
  ALIGN_RECIPES,
  type AlignComparison,
  type AlignMetrics,
  type AlignPresetName,
  type AlignProgress,
  type AlignRecipe,
  alignPresets,
  casePair,
  compareAlignRecipes,
  DEFAULT_ALIGN_SEEDS,
  FINDING_LABELS,
  findingLabels,
  type TrainAlignOptions,
  trainAlign,
} from "./alignRecipe.js";
export { exportGptInference, setupCharLm } from "./charLm.js";
export {
  defaultEmotionHyperparameters,
  type EmotionHyperparameters,
  type EmotionProgress,
  type EmotionTrainResult,
  type LabelledText,
  trainEmotionClassifier,
} from "./emotionRecipe.js";
export { FINETUNE_METHODS, type FinetuneMethod, type FinetuneResult, finetuneMoeLm, heldOutLoss } from "./finetune.js";
export { KneserNeyLm } from "./kneserNey.js";
export { LIPSYNC_PRESET_VALUES, LIPSYNC_PRESETS, type LipSyncPresetName, trainLipSync } from "./lipSyncRecipe.js";
export { gptTrainGraph } from "./lm.js";
export {
  type ChatCorpusSpec,
  type CorpusText,
  corpusText,
  type LmCorpus,
  type LmCorpusSpec,
  type LmPresetName,
  lmPresets,
  type TrainLmOptions,
  type TrainLmResult,
  tokenizeCorpus,
  trainLm,
} from "./lmRecipe.js";
export { trainLoop } from "./loop.js";
export { type DomainTokens, heldOutMasks, heldOutWindows, setupMoeLmTraining } from "./moeLm.js";
export { type ReportPresetName, reportGeneralWords, reportPresets, trainReport } from "./reportRecipe.js";
export { evaluateRetrieval, type RetrievalMetrics, type SlicePair } from "./retrieval.js";
export { cosineSchedule } from "./schedule.js";
export { corpusBleu, metricTokens, rougeL } from "./textMetrics.js";
