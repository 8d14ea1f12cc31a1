// The applications (digital human, medical report, personalized news): handlers on the serving pipeline plus
// their own logic. The public surface of src/apps.

export {
  DEFAULT_EMOTION_SEED,
  DEFAULT_REVIEW_SHARE,
  EmotionInputError,
  EmotionModelError,
  evaluateEmotionClassifier,
  loadEmotionClassifier,
  SHIPPED_EMOTION_MODEL_DIR,
  trainEmotionModel,
} from "./avatar/emotion/index.js";
export { buildHeadGeometry, buildHeadGlb, headStats } from "./avatar/head/index.js";
export { avatarApp, loadAvatarServices } from "./avatar/index.js";
export {
  buildLipSyncModel,
  evaluateLipSync,
  heldOutUtterances,
  type LipSyncMetrics,
  loadHeadAudio,
  loadLipSyncModel,
} from "./avatar/lipsync/node.js";
export { ESPEAK_PACKAGE, encodeWav, SPEECH_LANGS, type SpeechLang, synthesizeSpeech } from "./avatar/speech/index.js";
export { type EvalRecords, evalContext, evaluateReports, type ReportEval } from "./medical/evaluateReports.js";
export { matchedPredictions } from "./medical/findingMetrics.js";
export { gateNotes, medicalApp } from "./medical/http.js";
export { expectedCalibrationError, findingConfidence, fitImageGate, huProfile, ImageGate } from "./medical/imageGate.js";
export { contextFromJson, readSlice } from "./medical/inputs.js";
export { ReportGenerator } from "./medical/reportGenerator.js";
export {
  type ChatBackend,
  type Digest,
  digestEmailHtml,
  FeedError,
  injectFetch,
  isHeldOutItem,
  NewsInputError,
  Newsroom,
  newsApp,
  openAiChatBackend,
  readReleaseNotes,
  summarizerRecords,
} from "./news/index.js";
