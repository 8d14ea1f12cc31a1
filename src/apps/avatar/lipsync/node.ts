// Lip sync, Node-only part: data synthesis, model building, evaluation, ONNX Runtime for Node, HeadAudio.
export { type BuildLipSyncOptions, type BuildLipSyncResult, buildLipSyncModel, heldOutUtterances } from "./build.js";
export { buildLipSyncDataset, HELD_OUT_VARIANTS, type LipSyncDataset, type LipSyncUtterance, TRAIN_VARIANTS } from "./dataset.js";
export { evaluateLipSync, type LipSyncMetrics, MOUTH_OPENNESS } from "./evaluate.js";
export { HEADAUDIO_VISEMES, type HeadAudioRunner, loadHeadAudio } from "./headAudio.js";
export { DEFAULT_LIPSYNC_DIR, type LoadedLipSyncModel, loadLipSyncModel, sessionInfer } from "./nodeModel.js";
