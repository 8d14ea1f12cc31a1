// Rule mapping from eSpeak-NG phonemes (as IPA, the form its phoneme events carry) to the
// 15 Oculus visemes, and the per-frame viseme track that is the lip-sync model's training
// target. Browser-safe: no Node imports.
//
// A phoneme symbol is looked up whole first ("ts.h", "ʲ"); otherwise stress and length
// marks and diacritics are dropped and the longest known prefix decides, so a diphthong
// or an r-coloured vowel shows the mouth shape of its onset ("aɪ" -> aa, "ʊɹ" -> U),
// except that a leading i/u/y before another vowel is a glide (Mandarin finals "iɛ",
// "uo", "yæ"), so the nucleus after it decides.

import { VISEMES, type Viseme } from "../faceRig.js";

/** Symbols matched whole, before any normalisation (Mandarin retroflexes use a dot). */
const WHOLE: Readonly<Record<string, Viseme>> = {
  _: "sil",
  "s.": "CH", // ʂ
  "ts.": "CH", // ʈʂ
  "ts.h": "CH", // ʈʂʰ
  "i.": "I", // apical vowel after retroflexes and sibilants
  ʲ: "I", // palatalisation emitted on its own
  ʔ: "sil", // glottal stop: lips at rest
};

/** Segment onsets -> viseme, matched as the longest prefix of the normalised symbol. */
const PREFIX: Readonly<Record<string, Viseme>> = {
  // bilabials
  p: "PP",
  b: "PP",
  m: "PP",
  β: "PP",
  // labiodentals
  f: "FF",
  v: "FF",
  ɸ: "FF",
  // dentals
  θ: "TH",
  ð: "TH",
  // alveolar stops and the flap
  t: "DD",
  d: "DD",
  ɾ: "DD",
  ʈ: "DD",
  ɖ: "DD",
  // velars, uvulars, glottal fricative (mouth follows the tongue back)
  k: "kk",
  g: "kk",
  ɡ: "kk",
  ŋ: "kk",
  x: "kk",
  χ: "kk",
  h: "kk",
  ɦ: "kk",
  ɣ: "kk",
  ç: "kk",
  c: "kk",
  ɟ: "kk",
  q: "kk",
  // post-alveolar and alveolo-palatal affricates and fricatives
  tʃ: "CH",
  dʒ: "CH",
  ʃ: "CH",
  ʒ: "CH",
  tɕ: "CH",
  ɕ: "CH",
  // sibilants
  s: "SS",
  z: "SS",
  ts: "SS",
  dz: "SS",
  // nasal and lateral with the tongue tip up
  n: "nn",
  l: "nn",
  ɫ: "nn",
  ɲ: "nn",
  ɭ: "nn",
  ʎ: "nn",
  // rhotics (Mandarin r included)
  ɹ: "RR",
  r: "RR",
  ɻ: "RR",
  ʐ: "RR",
  ɚ: "RR",
  ʁ: "RR",
  ʀ: "RR",
  // glides
  j: "I",
  w: "U",
  ʍ: "U", // voiceless w ("which" in Scottish English)
  ɥ: "U",
  // open vowels
  a: "aa",
  ɑ: "aa",
  æ: "aa",
  ɐ: "aa",
  ʌ: "aa",
  // mid front and central vowels
  e: "E",
  ɛ: "E",
  ə: "E",
  ɜ: "E",
  ɘ: "E",
  ɤ: "E",
  œ: "E",
  // close front vowels
  i: "I",
  ɪ: "I",
  ᵻ: "I",
  // rounded back vowels
  o: "O",
  ɔ: "O",
  ɒ: "O",
  ɵ: "O",
  ø: "O",
  u: "U",
  ʊ: "U",
  ʉ: "U",
  ɯ: "U",
  y: "U", // rounded front (Mandarin ü): the lips round
};

const VOWELS: ReadonlySet<string> = new Set("aɑæɐʌeɛəɜɘɤœiɪᵻoɔɒɵøuʊʉɯy");
const MAX_PREFIX = Math.max(...Object.keys(PREFIX).map((k) => k.length));

/** Stress, length, syllabicity, dental and other diacritics that do not move the lips. */
const normalise = (symbol: string): string => symbol.normalize("NFD").replace(/[ˈˌː:ʲ-]|\p{M}/gu, "");

/** The viseme of one eSpeak phoneme, or undefined when the symbol is not covered. */
export function visemeForPhoneme(symbol: string): Viseme | undefined {
  const whole = WHOLE[symbol];
  if (whole) return whole;
  const normalised = normalise(symbol);
  const s =
    /^[iuy]/.test(normalised) && VOWELS.has(normalised[1]) && normalised[1] !== normalised[0] ? normalised.slice(1) : normalised;
  for (let len = Math.min(MAX_PREFIX, s.length); len > 0; len--) {
    const v = PREFIX[s.slice(0, len)];
    if (v) return v;
  }
  return undefined;
}

/** A phoneme the rule table does not cover. */
export class UnknownPhonemeError extends Error {
  constructor(readonly symbol: string) {
    super(
      `no viseme rule for eSpeak phoneme "${symbol}" (code points ${[...symbol].map((c) => c.codePointAt(0)?.toString(16)).join(" ")})`,
    );
    this.name = "UnknownPhonemeError";
  }
}

export interface PhonemeSpan {
  symbol: string;
  startMs: number;
  endMs: number;
}

/** Index of a viseme in VISEMES (the model's output order). */
export const visemeIndex = (viseme: Viseme): number => VISEMES.indexOf(viseme);

export interface VisemeTrackOptions {
  /** Where a frame samples the phoneme track, in ms from the frame's start; default its centre, 12.5 (25 ms window). */
  sampleOffsetMs?: number;
  /** Number of frames; default enough to cover the last phoneme. */
  frames?: number;
  /** What an uncovered phoneme becomes: an error (default) or silence. */
  unknown?: "throw" | "sil";
}

/**
 * phonemes (time-ordered) -> one viseme index per frame: frame t is the viseme of the
 * phoneme active at t * frameMs + sampleOffsetMs; before or after all phonemes, silence.
 */
export function visemeTrack(phonemes: readonly PhonemeSpan[], frameMs: number, opts: VisemeTrackOptions = {}): Int32Array {
  if (!(frameMs > 0)) throw new Error(`visemeTrack: frameMs must be positive, got ${frameMs}`);
  const offset = opts.sampleOffsetMs ?? 12.5;
  const endMs = phonemes.length ? phonemes[phonemes.length - 1].endMs : 0;
  const frames = opts.frames ?? Math.max(0, Math.ceil((endMs - offset) / frameMs));
  const ids = phonemes.map((p) => {
    const v = visemeForPhoneme(p.symbol);
    if (v) return visemeIndex(v);
    if (opts.unknown === "sil") return 0;
    throw new UnknownPhonemeError(p.symbol);
  });
  const out = new Int32Array(frames);
  let k = 0;
  for (let t = 0; t < frames; t++) {
    const time = t * frameMs + offset;
    while (k < phonemes.length && phonemes[k].endMs <= time) k++;
    out[t] = k < phonemes.length && phonemes[k].startMs <= time ? ids[k] : 0;
  }
  return out;
}
