// The digital human app: the parts the /avatar page and API are made of, assembled from the
// shipped models (the head, the lip-sync model for the browser, the emotion classifier) and
// the optional eSpeak-NG speech adapter. A missing part degrades the page and says why.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AppPlugin, HttpError } from "../../serve/index.js";
import { type EmotionClassifier, loadEmotionClassifier, SHIPPED_EMOTION_MODEL_DIR } from "./emotion/index.js";
import type { Viseme } from "./faceRig.js";
import { buildHeadGlb } from "./head/index.js";
import { type AvatarServices, avatarAppPage, avatarRoutes, type PhonemeTiming } from "./http.js";
import { visemeForPhoneme } from "./lipsync/index.js";
import { EspeakUnavailableError, encodeWav, SpeechInputError, SpeechThread } from "./speech/index.js";

export { type AvatarServices, avatarAppPage, avatarRoutes, detectLanguage } from "./http.js";

/** The lip-sync model the project ships (see its RECIPE.md). */
export const SHIPPED_LIPSYNC_MODEL_DIR = fileURLToPath(new URL("../../../assets/lipsync", import.meta.url));

/** Phoneme timings → contiguous viseme segments (the rule-based track, merged runs). */
export function visemeSegments(phonemes: readonly PhonemeTiming[]): { viseme: Viseme; startMs: number; endMs: number }[] {
  const out: { viseme: Viseme; startMs: number; endMs: number }[] = [];
  for (const p of phonemes) {
    const viseme = visemeForPhoneme(p.symbol) ?? "sil";
    const last = out.at(-1);
    if (last && last.viseme === viseme && last.endMs >= p.startMs) last.endMs = p.endMs;
    else out.push({ viseme, startMs: p.startMs, endMs: p.endMs });
  }
  return out;
}

export interface AvatarServiceSet extends AvatarServices {
  close(): Promise<void>;
}

export async function loadAvatarServices(options: { emotionDir?: string; lipSyncDir?: string } = {}): Promise<AvatarServiceSet> {
  const emotionDir = options.emotionDir ?? SHIPPED_EMOTION_MODEL_DIR;
  const lipSyncDir = options.lipSyncDir ?? SHIPPED_LIPSYNC_MODEL_DIR;
  const emotion: EmotionClassifier | undefined = existsSync(join(emotionDir, "config.json"))
    ? await loadEmotionClassifier(emotionDir)
    : undefined;
  const speech = new SpeechThread();
  let speechUnavailable: string | undefined;
  try {
    await speech.listVoices(); // loads the optional adapter once, so the page can say if it is missing
  } catch (e) {
    if (!(e instanceof EspeakUnavailableError)) throw e;
    speechUnavailable = e.message;
  }
  const synthesize: AvatarServices["synthesize"] = async (text, s) => {
    try {
      return await speech.synthesize(text, s);
    } catch (e) {
      if (e instanceof SpeechInputError) throw new HttpError(400, "invalid_speech_request", e.message);
      throw e;
    }
  };
  return {
    synthesize: speechUnavailable ? undefined : synthesize,
    encodeWav,
    visemeSegments,
    emotion,
    lipSyncDir: existsSync(join(lipSyncDir, "model.onnx")) ? lipSyncDir : undefined,
    // Without normal deltas: morphed normals cost the vertex shader more than the page can
    // afford at 60 FPS under software rendering, and the rest normals light the face well.
    headGlb: () => buildHeadGlb(undefined, { morphNormals: false }),
    speechUnavailable,
    // The emotion model's ONNX Runtime session is released with the process.
    close: () => speech.close(),
  };
}

/** The avatar as an app plugin for buildApp(). */
export const avatarApp = (services: AvatarServices): AppPlugin => ({
  register: (app) => avatarRoutes(app, services),
  pages: [avatarAppPage],
});
