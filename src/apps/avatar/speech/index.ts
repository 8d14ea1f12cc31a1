// Speech synthesis for the avatar: the optional eSpeak-NG adapter and WAV encoding.
export {
  ESPEAK_PACKAGE,
  EspeakUnavailableError,
  listVoices,
  MAX_TEXT_CHARS,
  SPEECH_LANGS,
  type SpeechAudio,
  SpeechInputError,
  type SpeechLang,
  SpeechOptions,
  synthesizeSpeech,
  type TimedPhoneme,
  type VoiceList,
} from "./espeak.js";
export { SpeechThread } from "./speechThread.js";
export { encodeWav } from "./wav.js";
