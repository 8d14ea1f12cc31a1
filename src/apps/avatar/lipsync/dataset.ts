// Synthetic lip-sync data: sentences (English and Mandarin from the Debian fortune files)
// spoken by eSpeak-NG with many dialects, voice variants, rates and pitches, lightly
// augmented (gain, white noise; training audio also warped in speed and formants),
// turned into log-mel frames and per-frame viseme targets.
// The held-out split is disjoint twice over: held-out sentences spoken by held-out voice
// variants. Node-only (reads files, drives the eSpeak adapter).

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hashString, Rng } from "../../../runtime/index.js";
import { listVoices, type SpeechLang, synthesizeSpeech, type TimedPhoneme } from "../speech/index.js";
import { DEFAULT_LOG_MEL, frameMs, type LogMelConfig, logMelFrames, StreamingResampler } from "./logMel.js";
import { visemeTrack } from "./phonemeVisemes.js";

export const FORTUNE_DIR = "/usr/share/games/fortunes";
const ENGLISH_FORTUNES = [
  "fortunes",
  "wisdom",
  "people",
  "science",
  "computers",
  "literature",
  "education",
  "work",
  "politics",
  "humorists",
  "food",
  "love",
  "platitudes",
  "riddles",
];
const CHINESE_FORTUNES = ["chinese", "tang300", "song100"];

/** Voice variants used for training; the held-out ones are never heard in training. */
export const TRAIN_VARIANTS = [
  "",
  "m1",
  "m2",
  "m3",
  "m4",
  "m5",
  "m6",
  "f1",
  "f2",
  "f3",
  "f5",
  "klatt",
  "klatt2",
  "klatt4",
  "Alex",
  "Andy",
  "adam",
  "belinda",
  "boris",
  "david",
  "edward",
  "iven",
  "john",
  "max",
  "michel",
  "paul",
  "robert",
  "steph",
  "victor",
  "zac",
] as const;
export const HELD_OUT_VARIANTS = ["m7", "f4", "klatt3", "linda", "travis", "norbert"] as const;

/** Fraction of sentences (per language) held out. */
const HELD_OUT_SENTENCE_FRACTION = 0.1;

export interface Sentence {
  lang: SpeechLang;
  text: string;
  heldOut: boolean;
}

function readFortunes(names: readonly string[]): string[] {
  const out: string[] = [];
  for (const n of names) {
    const path = join(FORTUNE_DIR, n);
    if (existsSync(path)) out.push(...readFileSync(path, "utf8").split(/\n%\n/));
  }
  return out;
}

/** English sentences: attributions dropped, only speakable characters, 20..160 characters, 3+ words. */
export function englishSentences(): string[] {
  const seen = new Set<string>();
  for (const fortune of readFortunes(ENGLISH_FORTUNES)) {
    const body = fortune
      .split("\n")
      .filter((l) => !/^\s*(--|—)/.test(l))
      .join(" ")
      .replace(/[^A-Za-z0-9 ,.;:'?!-]/g, " ")
      .replace(/\s+/g, " ");
    for (const s of body.split(/(?<=[.!?])\s+/)) {
      const t = s.trim();
      if (t.length >= 20 && t.length <= 160 && t.split(" ").length >= 3 && /[a-z]/.test(t)) seen.add(t);
    }
  }
  return [...seen];
}

/** Terminal colour codes (ESC [ ... m) in the Chinese fortune files. */
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** Mandarin sentences: colour codes and non-Han characters dropped (Chinese punctuation kept), 6..50 characters. */
export function mandarinSentences(): string[] {
  const seen = new Set<string>();
  for (const fortune of readFortunes(CHINESE_FORTUNES)) {
    const body = fortune.replace(ANSI_COLOUR, "").replace(/[^\p{Script=Han}，。！？、；：]/gu, "");
    for (const s of body.split(/(?<=[。！？；])/)) {
      const t = s.replace(/^[，。！？、；：]+/, "");
      const han = t.replace(/[^\p{Script=Han}]/gu, "").length;
      if (han >= 6 && t.length <= 50) seen.add(t);
    }
  }
  return [...seen];
}

/** All sentences with their split: a sentence is held out by a hash of its text, so the split is stable. */
export function sentenceCorpus(): Sentence[] {
  const tag = (lang: SpeechLang) => (text: string) => ({
    lang,
    text,
    heldOut: (hashString(text) % 1000) / 1000 < HELD_OUT_SENTENCE_FRACTION,
  });
  return [...englishSentences().map(tag("en")), ...mandarinSentences().map(tag("zh"))];
}

export interface VoiceSetting {
  dialect: string;
  /** eSpeak variant; "" is the dialect's own voice. */
  variant: string;
  wordsPerMinute: number;
  pitch: number;
}

export interface LipSyncUtterance {
  lang: SpeechLang;
  text: string;
  voice: VoiceSetting;
  /** Gain applied and noise SNR in dB (null: clean). */
  gain: number;
  /** Speed/formant warp factor (1: none; 1.1 = 10% slower and formants 10% lower). */
  warp: number;
  snrDb: number | null;
  sampleRate: number;
  /** The augmented audio (kept only when asked for). */
  samples?: Float32Array;
  phonemes: TimedPhoneme[];
  /** Log-mel frames [T][M]. */
  features: Float32Array[];
  /** Viseme index per frame [T]. */
  targets: Int32Array;
}

export interface BuildOptions {
  /** Utterances to synthesise, per split. */
  trainUtterances: number;
  heldOutUtterances: number;
  /** Fraction of Mandarin utterances. */
  mandarinShare: number;
  seed: number;
  features?: LogMelConfig;
  /** Keep the held-out audio (for evaluation through the streamer and HeadAudio). */
  keepHeldOutAudio?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface LipSyncDataset {
  train: LipSyncUtterance[];
  heldOut: LipSyncUtterance[];
  features: LogMelConfig;
}

/** Gain and white noise: gain log-uniform in [0.25, 1.6]; 70% get noise at 15..40 dB SNR. */
function augment(samples: Float32Array, rng: Rng): { samples: Float32Array; gain: number; snrDb: number | null } {
  const gain = Math.exp(Math.log(0.25) + rng.next() * (Math.log(1.6) - Math.log(0.25)));
  let power = 0;
  for (const s of samples) power += s * s;
  power /= Math.max(1, samples.length);
  const snrDb = rng.next() < 0.7 ? 15 + 25 * rng.next() : null;
  const noiseStd = snrDb === null ? 0 : Math.sqrt(power / 10 ** (snrDb / 10));
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.max(-1, Math.min(1, gain * (samples[i] + noiseStd * rng.normal())));
  return { samples: out, gain, snrDb };
}

/**
 * Resample by `factor` and play back at the original rate: the audio lasts `factor` times
 * longer and every frequency (pitch and formants) scales by 1/factor, a cheap stand-in for
 * a longer or shorter vocal tract. Timings scale with it.
 */
function warpSpeech(samples: Float32Array, sampleRate: number, phonemes: TimedPhoneme[], factor: number) {
  const resampler = new StreamingResampler(sampleRate, Math.round(sampleRate * factor));
  const head = resampler.push(samples);
  const tail = resampler.flush();
  const out = new Float32Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  const durationMs = (1000 * out.length) / sampleRate;
  const scaled = phonemes.map((p) => ({
    ...p,
    startMs: Math.min(p.startMs * factor, durationMs),
    endMs: Math.min(p.endMs * factor, durationMs),
  }));
  return { samples: out, phonemes: scaled };
}

/**
 * Synthesise and featurise one utterance. With `warp`, half the utterances get a
 * speed/formant warp in [0.9, 1.12] (training only: held-out voices stay as eSpeak made them).
 */
export async function makeUtterance(
  sentence: { lang: SpeechLang; text: string },
  voice: VoiceSetting,
  rng: Rng,
  features: LogMelConfig = DEFAULT_LOG_MEL,
  keepAudio = false,
  warp = false,
): Promise<LipSyncUtterance> {
  const speech = await synthesizeSpeech(sentence.text, {
    lang: sentence.lang,
    dialect: voice.dialect,
    ...(voice.variant ? { voice: voice.variant } : {}),
    wordsPerMinute: voice.wordsPerMinute,
    pitch: voice.pitch,
  });
  const factor = warp && rng.next() < 0.5 ? 0.9 + 0.22 * rng.next() : 1;
  const warped = factor === 1 ? speech : warpSpeech(speech.samples, speech.sampleRate, speech.phonemes, factor);
  const { samples, gain, snrDb } = augment(warped.samples, rng);
  const frames = logMelFrames(samples, speech.sampleRate, features);
  const targets = visemeTrack(warped.phonemes, frameMs(features), {
    frames: frames.length,
    sampleOffsetMs: (500 * features.windowSamples) / features.sampleRate,
    unknown: "sil",
  });
  return {
    lang: sentence.lang,
    text: sentence.text,
    voice,
    gain,
    warp: factor,
    snrDb,
    sampleRate: speech.sampleRate,
    ...(keepAudio ? { samples } : {}),
    phonemes: warped.phonemes,
    features: frames,
    targets,
  };
}

function pick<T>(items: readonly T[], rng: Rng): T {
  return items[rng.int(items.length)];
}

/** A random voice: a dialect of the language, a variant from `variants`, rate 120..260 wpm, pitch 20..80. */
function randomVoice(lang: SpeechLang, dialects: readonly string[], variants: readonly string[], rng: Rng): VoiceSetting {
  return {
    dialect: lang === "zh" ? "cmn" : pick(dialects, rng),
    variant: pick(variants, rng),
    wordsPerMinute: Math.round(120 + 140 * rng.next()),
    pitch: Math.round(20 + 60 * rng.next()),
  };
}

/** Build both splits: train sentences × train voices, held-out sentences × held-out voices. */
export async function buildLipSyncDataset(options: BuildOptions): Promise<LipSyncDataset> {
  const features = options.features ?? DEFAULT_LOG_MEL;
  const corpus = sentenceCorpus();
  const englishDialects = (await listVoices()).dialects.filter((d) => d.lang === "en").map((d) => d.code);
  const bySplit = (heldOut: boolean, lang: SpeechLang) => corpus.filter((s) => s.heldOut === heldOut && s.lang === lang);
  const total = options.trainUtterances + options.heldOutUtterances;
  let done = 0;
  const build = async (heldOut: boolean, n: number): Promise<LipSyncUtterance[]> => {
    // One stream per split, so the held-out set depends on the seed only, not on the train size.
    const rng = Rng.forName(options.seed, heldOut ? "held-out" : "train");
    const pools = { en: bySplit(heldOut, "en"), zh: bySplit(heldOut, "zh") };
    const variants = heldOut ? HELD_OUT_VARIANTS : TRAIN_VARIANTS;
    const out: LipSyncUtterance[] = [];
    for (let i = 0; i < n; i++) {
      const lang: SpeechLang = rng.next() < options.mandarinShare ? "zh" : "en";
      const sentence = pick(pools[lang], rng);
      const voice = randomVoice(lang, englishDialects, variants, rng);
      out.push(await makeUtterance(sentence, voice, rng, features, heldOut && options.keepHeldOutAudio, !heldOut));
      options.onProgress?.(++done, total);
      // Synthesis is synchronous: give timers (a progress bar's redraw) a turn.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return out;
  };
  const heldOut = await build(true, options.heldOutUtterances);
  const train = await build(false, options.trainUtterances);
  return { train, heldOut, features };
}
