// Every whole model, each with its inference session beside it: the MoE LM (graph, decoding
// session, files), the report model, image/text encoders and the aligner, the GPT char LM,
// emotion, lip sync and the EHR risk models. The public surface of src/models.

export {
  ALIGNER_KIND,
  Aligner,
  AlignerConfig,
  type AlignerFileConfig,
  alignerImageTower,
  alignerLogitScale,
  alignerTextTower,
  type HuSlice,
  idsInput,
  loadAligner,
  pixelsInput,
  saveAligner,
} from "./aligner.js";
export type { BatchDecodeModel, BatchDecodeSession, DecodeModel, DecodeSession } from "./decodeModel.js";
export { type HeModel, heModelSchema, type LogisticModel, type MlpModel, plainScore, sigmoid, standardise } from "./ehrRisk.js";
export {
  EmotionClassifierConfig,
  type EmotionFeatures,
  emotionClassifier,
  emotionFeeds,
  emotionInputs,
} from "./emotionClassifier.js";
export { glm4moeRefusal, glm4moeShape, glm4moeTensors } from "./glm4moe.js";
export { type GptConfig, gptLogits } from "./gpt.js";
export { CHEST_WINDOWS, preprocessHu } from "./imageEncoder.js";
export { currentFrameIndex, exportLipSyncOnnx, LipSyncConfig, lipSyncInput, lipSyncLogits } from "./lipSync.js";
export { checkGgufForLlamaCpp, LlamaCppModel, type LlamaCppModelOptions } from "./llamaCppModel.js";
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  type LoraAdapter,
  loadLoraAdapter,
  mergeLora,
  randomLoraAdapter,
  saveLoraAdapter,
  stackExpertLora,
  unstackExpertLora,
} from "./loraAdapter.js";
export { MoeLmConfig, moeLayerIndices, moeLm, routerBiasName } from "./moeLm.js";
export {
  type GenerationDefaults,
  generationConfigFile,
  loadGenerationDefaults,
  loadMoeLm,
  MODEL_KIND,
  type MoeLmFiles,
  saveMoeLm,
} from "./moeLmFiles.js";
export { GGUF_TYPES, type GgufExportType, writeMoeLmGguf } from "./moeLmGguf.js";
export {
  HF_DTYPES,
  type HfExportDtype,
  type HfExportOptions,
  type HfExportReport,
  moeLmHfRefusal,
  saveMoeLmHf,
} from "./moeLmHf.js";
export { moeLmInferenceGraph } from "./moeLmInference.js";
export { checkGgufMatchesFolder, folderChatTemplate, loadMoeLmOnLlamaCpp, type MoeLmLlamaCppOptions } from "./moeLmLlamaCpp.js";
export { MoeLmModel } from "./moeLmModel.js";
export {
  type GeneralWords,
  loadReportModelFiles,
  REPORT_MODEL_KIND,
  type ReportModelFileConfig,
  saveReportModel,
  towerReduce,
  visionFeaturesGraph,
  visionSlots,
  visionTokens,
} from "./reportModel.js";
export {
  type ClinicalContext,
  contextFromRecord,
  contextFromSynthEhr,
  contextText,
  emptyContext,
  type ReportLanguage,
  reportLanguages,
  reportPrompt,
} from "./reportPrompt.js";
export { MASK_ID, PAD_ID, TEXT_SPECIAL_TOKENS, type TextEncoderConfig, tokenizeTexts } from "./textEncoder.js";
