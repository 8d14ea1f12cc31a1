// Lip sync for the digital human, browser-safe part: phoneme -> viseme rules, log-mel
// features, the streamer and the model file's schema. Node-only parts (data synthesis,
// training, evaluation, ONNX Runtime for Node, HeadAudio) are in ./node.js.
export { DEFAULT_LOG_MEL, frameMs, LogMelConfig, LogMelStream, logMelFrames, StreamingResampler } from "./logMel.js";
export { algorithmicLatencyMs, LipSyncModelFile } from "./modelFiles.js";
export {
  type PhonemeSpan,
  UnknownPhonemeError,
  type VisemeTrackOptions,
  visemeForPhoneme,
  visemeIndex,
  visemeTrack,
} from "./phonemeVisemes.js";
export { type LipSyncInfer, LipSyncStreamer, type LipSyncStreamerOptions } from "./streamer.js";
