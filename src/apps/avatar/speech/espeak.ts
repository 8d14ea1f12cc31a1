// Text -> speech audio + phoneme timings through eSpeak-NG compiled to WebAssembly
// (@echogarden/espeak-ng-emscripten). The package is GPL-3.0, so it is an optional,
// isolated adapter: this file is the only one that loads it, and only by a dynamic
// import at first use; without it, synthesis fails with EspeakUnavailableError.
//
// The port exposes eSpeak's synchronous synthesis callback: each call hands over a block
// of 16-bit samples and the events (word, phoneme, end, ...) inside it, each stamped with
// its position in the audio in milliseconds. Phoneme events carry the phoneme as IPA
// (stress marks included); language-switch markers such as "(en)" are not phonemes.

import { z } from "zod";
import { issueLines } from "../../../runtime/index.js";

export const ESPEAK_PACKAGE = "@echogarden/espeak-ng-emscripten";
export const MAX_TEXT_CHARS = 1000;

/** The languages the avatar speaks, and eSpeak's default dialect for each. */
export const SPEECH_LANGS = ["en", "zh"] as const;
export type SpeechLang = (typeof SPEECH_LANGS)[number];
const DEFAULT_DIALECT: Record<SpeechLang, string> = { en: "en-us", zh: "cmn" };

/** eSpeak's own rate range (words per minute); 100% = eSpeak's default 175 wpm. */
export const DEFAULT_WORDS_PER_MINUTE = 175;

export const SpeechOptions = z
  .object({
    lang: z.enum(SPEECH_LANGS),
    /** eSpeak language code of the dialect, e.g. "en-us", "en-gb-x-rp", "en-gb-scotland", "cmn"; default per lang. */
    dialect: z.string().min(1).optional(),
    /** eSpeak voice variant, e.g. "m3", "f2", "klatt" (see listVoices().variants); default the dialect's own voice. */
    voice: z.string().min(1).optional(),
    /** Speaking rate in words per minute (eSpeak accepts 80..450). */
    wordsPerMinute: z.number().min(80).max(450).optional(),
    /** Speaking rate relative to eSpeak's default 175 wpm (alternative to wordsPerMinute). */
    ratePercent: z.number().min(46).max(257).optional(),
    /** Base pitch, 0..99 (eSpeak's default 50). */
    pitch: z.number().int().min(0).max(99).optional(),
  })
  .strict()
  .refine((o) => o.wordsPerMinute === undefined || o.ratePercent === undefined, {
    message: "give either wordsPerMinute or ratePercent, not both",
  });
export type SpeechOptions = z.input<typeof SpeechOptions>;

export interface TimedPhoneme {
  /** eSpeak's phoneme as IPA with stress marks ("ˈaʊ", "tɕh"); "_" is a pause. */
  symbol: string;
  startMs: number;
  endMs: number;
}

export interface SpeechAudio {
  sampleRate: number;
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
  /** Contiguous, in time order, from 0 to the end of the audio. */
  phonemes: TimedPhoneme[];
}

export interface VoiceList {
  dialects: { lang: SpeechLang; code: string; name: string }[];
  variants: string[];
}

/** The package is not installed (it is optional because of its GPL-3.0 licence). */
export class EspeakUnavailableError extends Error {
  constructor(cause: unknown) {
    super(
      `speech synthesis needs the optional package ${ESPEAK_PACKAGE} (GPL-3.0), which could not be loaded: ` +
        `install it with \`npm install ${ESPEAK_PACKAGE}\``,
      { cause },
    );
    this.name = "EspeakUnavailableError";
  }
}

/** The text or options given to synthesizeSpeech were not usable. */
export class SpeechInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpeechInputError";
  }
}

// The slice of the Emscripten module this adapter uses (names are the port's own).
interface EspeakEvent {
  type: string;
  audio_position: number;
  id: string | number | undefined;
}
interface EspeakWorker {
  set_voice(name: string, lang: string, gender: number, age: number, variant: string): number;
  set_rate(wordsPerMinute: number): void;
  set_pitch(pitch: number): void;
  get_samplerate(): number;
  list_voices(): { name: string; identifier: string; languages: { priority: number; name: string }[] }[];
  synthesize(text: string, onBlock: (audio: Int16Array, events: EspeakEvent[]) => boolean): void;
}
interface EspeakModule {
  eSpeakNGWorker: new () => EspeakWorker;
  FS: { readdir(path: string): string[] };
}

const VARIANTS_DIR = "/usr/share/espeak-ng-data/voices/!v";

interface LoadedEspeak {
  worker: EspeakWorker;
  voices: VoiceList;
  /** Dialect code -> eSpeak voice identifier ("en-us" -> "gmw/en-US"). */
  identifiers: Map<string, string>;
}

let loaded: Promise<LoadedEspeak> | undefined;

function isEspeakModule(m: unknown): m is EspeakModule {
  return typeof m === "object" && m !== null && "eSpeakNGWorker" in m && "FS" in m;
}

async function loadEspeak(): Promise<LoadedEspeak> {
  let factory: unknown;
  try {
    // A variable specifier keeps bundlers and the type checker from resolving the package statically.
    const specifier: string = ESPEAK_PACKAGE;
    const imported: { default?: unknown } = await import(specifier);
    factory = imported.default;
  } catch (err) {
    throw new EspeakUnavailableError(err);
  }
  if (typeof factory !== "function") throw new EspeakUnavailableError(new Error(`${ESPEAK_PACKAGE} has no default export`));
  const mod: unknown = await factory();
  if (!isEspeakModule(mod)) throw new EspeakUnavailableError(new Error(`${ESPEAK_PACKAGE} did not create the expected module`));
  const worker = new mod.eSpeakNGWorker();
  const identifiers = new Map<string, string>();
  const dialects: VoiceList["dialects"] = [];
  for (const v of worker.list_voices()) {
    const code = v.languages[0]?.name;
    if (!code) continue;
    // Pinyin-input Mandarin reads Latin text; the avatar sends Hanzi, so only plain cmn.
    const lang: SpeechLang | undefined = /^gmw\/en/.test(v.identifier) ? "en" : v.identifier === "sit/cmn" ? "zh" : undefined;
    if (!lang) continue;
    identifiers.set(code, v.identifier);
    dialects.push({ lang, code, name: v.name });
  }
  const variants = mod.FS.readdir(VARIANTS_DIR)
    .filter((n) => n !== "." && n !== "..")
    .sort();
  return { worker, voices: { dialects, variants }, identifiers };
}

/** The loaded module, created once per process. */
function espeak(): Promise<LoadedEspeak> {
  loaded ??= loadEspeak();
  loaded.catch(() => {
    loaded = undefined;
  });
  return loaded;
}

/** Dialects (per language) and voice variants this eSpeak build offers. */
export async function listVoices(): Promise<VoiceList> {
  return (await espeak()).voices;
}

/** Synthesize `text` and return its audio and phoneme timings. */
export async function synthesizeSpeech(text: string, options: SpeechOptions): Promise<SpeechAudio> {
  const parsed = SpeechOptions.safeParse(options);
  if (!parsed.success)
    throw new SpeechInputError(`synthesizeSpeech: bad options: ${issueLines(parsed.error, options, { root: "options" })}`);
  const o = parsed.data;
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new SpeechInputError("synthesizeSpeech: text is empty; expected something to say");
  if (trimmed.length > MAX_TEXT_CHARS)
    throw new SpeechInputError(
      `synthesizeSpeech: text has ${trimmed.length} characters; at most ${MAX_TEXT_CHARS} per call (split it into sentences)`,
    );
  const { worker, voices, identifiers } = await espeak();
  const dialect = o.dialect ?? DEFAULT_DIALECT[o.lang];
  const identifier = identifiers.get(dialect);
  const ofLang = voices.dialects.filter((d) => d.lang === o.lang).map((d) => d.code);
  if (!identifier || !ofLang.includes(dialect))
    throw new SpeechInputError(
      `synthesizeSpeech: dialect "${dialect}" is not one of [${ofLang.join(", ")}] for lang "${o.lang}"`,
    );
  if (o.voice !== undefined && !voices.variants.includes(o.voice))
    throw new SpeechInputError(
      `synthesizeSpeech: voice "${o.voice}" is not an eSpeak variant; expected one of listVoices().variants`,
    );

  const rc = worker.set_voice(o.voice ? `${identifier}+${o.voice}` : identifier, "", 0, 0, "");
  if (rc !== 0) throw new Error(`synthesizeSpeech: eSpeak could not select voice ${identifier} (code ${rc})`);
  const wpm = o.wordsPerMinute ?? ((o.ratePercent ?? 100) / 100) * DEFAULT_WORDS_PER_MINUTE;
  worker.set_rate(Math.round(wpm));
  worker.set_pitch(o.pitch ?? 50);

  const blocks: Int16Array[] = [];
  const marks: { symbol: string; startMs: number }[] = [];
  worker.synthesize(trimmed, (audio, events) => {
    blocks.push(audio);
    for (const e of events) {
      if (e.type !== "phoneme") continue;
      const id = typeof e.id === "string" ? e.id : "";
      if (id.startsWith("(")) continue; // language switch marker, e.g. "(en)"
      marks.push({ symbol: id === "" ? "_" : id, startMs: e.audio_position });
    }
    return false; // false = keep going
  });
  const length = blocks.reduce((n, b) => n + b.length, 0);
  const samples = new Float32Array(length);
  let offset = 0;
  for (const b of blocks) {
    for (let i = 0; i < b.length; i++) samples[offset + i] = b[i] / 32768;
    offset += b.length;
  }
  const sampleRate = worker.get_samplerate();
  return { sampleRate, samples, phonemes: contiguousPhonemes(marks, (1000 * length) / sampleRate) };
}

/** Phoneme onsets -> contiguous intervals covering [0, durationMs]; pauses fill the gaps. */
function contiguousPhonemes(marks: { symbol: string; startMs: number }[], durationMs: number): TimedPhoneme[] {
  const out: TimedPhoneme[] = [];
  const push = (symbol: string, startMs: number, endMs: number) => {
    if (endMs <= startMs) return;
    const last = out[out.length - 1];
    if (last && last.symbol === "_" && symbol === "_") last.endMs = endMs;
    else out.push({ symbol, startMs, endMs });
  };
  let cursor = 0;
  marks.forEach((m, i) => {
    const start = Math.min(Math.max(m.startMs, cursor), durationMs);
    if (start > cursor) push("_", cursor, start);
    const end = Math.min(Math.max(marks[i + 1]?.startMs ?? durationMs, start), durationMs);
    push(m.symbol, start, end);
    cursor = Math.max(cursor, end);
  });
  if (cursor < durationMs) push("_", cursor, durationMs);
  return out;
}
