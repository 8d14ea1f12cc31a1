// The training data: emotional sentences, English and Chinese, from templates × slot
// fillers (lexicons.ts), with the context a bag of words gets wrong: negation ("not good",
// "不好"), intensifiers and diminishers, contrast ("X but Y": Y decides), exclamations,
// questions, emoji, neutral filler around the verdict, and review-style verdicts.
// Deterministic: sample i of seed s is always the same sentence.
//
// Labels: the emotion a reader would show, and an intensity in [0, 1] from the word's
// strength tier, the degree word, "!" and emoji. Product complaints are "angry" when
// strong (terrible, junk, scam) and "sad" when mild (disappointing, mediocre).

import { Rng } from "../../../runtime/index.js";
import { EMOTIONS, type Emotion } from "../faceRig.js";
import * as lex from "./lexicons.js";

export type Language = "en" | "zh";
export interface EmotionSample {
  text: string;
  emotion: Emotion;
  intensity: number;
  lang: Language;
}
/** A scored word from an external lexicon (VADER's, mean valence in [-4, 4]). */
export interface ScoredWord {
  word: string;
  valence: number;
}
export interface GeneratorOptions {
  /** Share of English samples; default 0.6. */
  englishShare?: number;
  /** Extra English vocabulary, each word used in simple evaluative frames. */
  vocabulary?: readonly ScoredWord[];
}

type Feeling = Exclude<Emotion, "neutral">;
const FEELINGS: readonly Feeling[] = ["happy", "sad", "angry", "surprised"];
const TIER_INTENSITY = { 1: 0.35, 2: 0.6, 3: 0.85 } as const;
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/** A sentence under construction: its text and label. */
interface Draft {
  text: string;
  emotion: Emotion;
  intensity: number;
}

class Picker {
  constructor(readonly rng: Rng) {}
  pick<T>(xs: readonly T[]): T {
    return xs[this.rng.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.rng.next() < p;
  }
}

// ---------------------------------------------------------------- English

const beFor = (subj: string, past: boolean): string =>
  subj === "i" ? (past ? "was" : "am") : ["we", "they"].includes(subj) ? (past ? "were" : "are") : past ? "was" : "is";

/** Degree word in front of a phrase: text and intensity change. */
function enDegree(p: Picker, phrase: string): { text: string; delta: number } {
  if (phrase.includes(" ")) return { text: "", delta: 0 };
  const r = p.rng.next();
  if (r < 0.35) return { text: `${p.pick(lex.EN_INTENSIFIERS)} `, delta: 0.15 };
  if (r < 0.5) return { text: `${p.pick(lex.EN_DIMINISHERS)} `, delta: -0.15 };
  return { text: "", delta: 0 };
}

const polarityEmotion = (positive: boolean, strength: lex.Strength): Emotion =>
  positive ? "happy" : strength === 3 ? "angry" : "sad";

function enFeeling(p: Picker): Draft {
  const emotion = p.pick(FEELINGS);
  const e = p.pick(lex.EN_FEELING[emotion]);
  const subj = p.pick(lex.EN_SUBJECTS);
  const deg = enDegree(p, e.text);
  const frame = p.rng.int(4);
  const head =
    frame === 0
      ? `${subj} ${beFor(subj, p.chance(0.3))} ${deg.text}${e.text}`
      : frame === 1
        ? `${subj} feel ${deg.text}${e.text}`
        : frame === 2
          ? `this makes me ${deg.text}${e.text}`
          : `i'm ${deg.text}${e.text}`;
  const cause = p.chance(0.35) ? ` because ${p.pick(lex.EN_CAUSES[emotion])}` : "";
  return { text: head + cause, emotion, intensity: TIER_INTENSITY[e.strength] + deg.delta };
}

function enThing(p: Picker): string {
  const item = p.pick(lex.EN_ITEMS);
  return p.pick(["it", "this", `the ${item}`, `this ${item}`, `my new ${item}`, `the ${item}`, `our ${item}`, `that ${item}`]);
}

function enQuality(p: Picker): Draft {
  const positive = p.chance(0.5);
  const q = p.pick(positive ? lex.EN_QUALITY_POSITIVE : lex.EN_QUALITY_NEGATIVE);
  const deg = enDegree(p, q.text);
  const thing = enThing(p);
  const frame = p.rng.int(5);
  const item = p.pick(lex.EN_ITEMS);
  const text =
    frame === 0 && !q.text.includes(" ")
      ? `${deg.text}${q.text} ${item}`
      : frame === 1 && !q.text.includes(" ")
        ? `what a ${q.text} ${item}`
        : frame === 2
          ? `${thing} ${p.pick(["is", "was", "seems", "looks", "feels"])} ${deg.text}${q.text}`
          : frame === 3
            ? `the ${item} ${p.pick(["is", "was"])} ${deg.text}${q.text}`
            : `${thing}'s ${deg.text}${q.text}`;
  return { text, emotion: polarityEmotion(positive, q.strength), intensity: TIER_INTENSITY[q.strength] + deg.delta };
}

function enProduct(p: Picker): Draft {
  const positive = p.chance(0.5);
  const c = p.pick(positive ? lex.EN_PRODUCT_POSITIVE : lex.EN_PRODUCT_NEGATIVE);
  return {
    text: `${enThing(p)} ${c.text}`,
    emotion: polarityEmotion(positive, c.strength),
    intensity: TIER_INTENSITY[c.strength],
  };
}

function enVerdict(p: Picker): Draft {
  const positive = p.chance(0.5);
  const c = p.pick(positive ? lex.EN_VERDICT_POSITIVE : lex.EN_VERDICT_NEGATIVE);
  return { text: c.text, emotion: polarityEmotion(positive, c.strength), intensity: TIER_INTENSITY[c.strength] };
}

function enInterjection(p: Picker): Draft {
  const emotion = p.pick(FEELINGS);
  const c = p.pick(lex.EN_INTERJECTIONS[emotion]);
  return { text: c.text, emotion, intensity: TIER_INTENSITY[c.strength] };
}

/** Neutral sentences: a fixed list, or composed (person + action + time, item + spec, questions). */
function enNeutral(p: Picker): Draft {
  const item = p.pick(lex.EN_ITEMS);
  const r = p.rng.next();
  const text =
    r < 0.25
      ? p.pick(lex.EN_NEUTRAL)
      : r < 0.55
        ? `${p.pick(lex.EN_NEUTRAL_PEOPLE)} ${p.pick(lex.EN_NEUTRAL_ACTIONS).replace("{item}", item)} ${p.pick(lex.EN_NEUTRAL_TIMES)}`
        : r < 0.8
          ? `${p.pick(["the", "this", "my", "our", "each"])} ${item} ${p.pick(lex.EN_NEUTRAL_SPECS)}`
          : `${p.pick(lex.EN_NEUTRAL_QUESTIONS).replace("{item}", item)}?`;
  return { text, emotion: "neutral", intensity: 0.05 };
}

/** What a seller or support team did: good service is happy, bad service angry. */
function enService(p: Picker): Draft {
  const positive = p.chance(0.5);
  const c = p.pick(positive ? lex.EN_SERVICE_POSITIVE : lex.EN_SERVICE_NEGATIVE);
  const text = `${p.pick(lex.EN_SERVICE_SUBJECTS)} ${c.text}`;
  if (!positive && p.chance(0.2))
    return { text: `how could ${text.replace(/^the /, "the ")}?`, emotion: "angry", intensity: 0.7 };
  return { text, emotion: positive ? "happy" : c.strength === 1 ? "sad" : "angry", intensity: TIER_INTENSITY[c.strength] };
}

/** Negated feelings and qualities: "not happy" is sad, "not angry" is neutral, "not bad" mildly good. */
function enNegated(p: Picker): Draft {
  const ofFeeling = p.chance(0.5);
  if (ofFeeling) {
    const emotion = p.pick(FEELINGS);
    const e = p.pick(lex.EN_FEELING[emotion].filter((x) => !x.text.includes(" ")));
    const subj = p.pick(lex.EN_SUBJECTS);
    const neg = p.pick(["not", "not really", "not at all", "never", "not very"]);
    const tail = p.chance(0.25) ? " at all" : "";
    const text = `${subj} ${beFor(subj, p.chance(0.3))} ${neg} ${e.text}${tail}`;
    if (emotion === "happy") return { text, emotion: "sad", intensity: tail ? 0.55 : 0.4 };
    return { text, emotion: "neutral", intensity: 0.1 };
  }
  const positive = p.chance(0.5);
  const q = p.pick((positive ? lex.EN_QUALITY_POSITIVE : lex.EN_QUALITY_NEGATIVE).filter((x) => !x.text.startsWith("not ")));
  const thing = enThing(p);
  const neg = p.pick(["is not", "isn't", "was not", "wasn't", "is not very", "is not that", "is not at all", "is never"]);
  const text = `${thing} ${neg} ${q.text}`;
  return positive
    ? { text, emotion: "sad", intensity: 0.3 + 0.1 * q.strength }
    : { text, emotion: q.strength === 1 ? "neutral" : "happy", intensity: 0.25 };
}

/** Negated verbs of liking and working: "i don't like it", "it doesn't disappoint". */
function enNegatedVerb(p: Picker): Draft {
  const frames: [string, Emotion, number][] = [
    ["i don't like {t}", "sad", 0.45],
    ["i do not love {t}", "sad", 0.35],
    ["i didn't enjoy {t}", "sad", 0.45],
    ["{t} doesn't disappoint", "happy", 0.55],
    ["{t} never disappoints", "happy", 0.6],
    ["{t} didn't let me down", "happy", 0.5],
    ["no problems with {t} so far", "happy", 0.45],
    ["i have no complaints about {t}", "happy", 0.5],
    ["i can't complain", "happy", 0.35],
    ["{t} doesn't work at all", "angry", 0.7],
    ["{t} didn't even turn on", "angry", 0.7],
    ["{t} couldn't be better", "happy", 0.75],
    ["i couldn't be happier", "happy", 0.85],
    ["{t} is no good", "sad", 0.5],
    ["i didn't expect {t} to be this good", "surprised", 0.6],
    ["i would never buy {t} again", "angry", 0.65],
    ["nothing works on {t}", "angry", 0.65],
    ["i can't stand {t}", "angry", 0.7],
    ["i don't hate {t}", "neutral", 0.1],
    ["i am not sure about {t}", "neutral", 0.1],
    ["how can they sell something this bad", "angry", 0.7],
    ["why would anyone buy {t}", "angry", 0.6],
    ["who designed {t}", "angry", 0.5],
  ];
  const [frame, emotion, intensity] = p.pick(frames);
  return { text: frame.replace("{t}", enThing(p)), emotion, intensity };
}

/** A short clause of a given emotion (for contrast and compound sentences). */
function enClause(p: Picker): Draft {
  const r = p.rng.next();
  return r < 0.25
    ? enQuality(p)
    : r < 0.5
      ? enProduct(p)
      : r < 0.65
        ? enFeeling(p)
        : r < 0.75
          ? enService(p)
          : r < 0.85
            ? enVerdict(p)
            : enNeutral(p);
}

/** "X but Y", "although X, Y", "X. however, Y": the second clause decides. */
function enContrast(p: Picker): Draft {
  const first = enClause(p);
  let second = enClause(p);
  for (let i = 0; i < 8 && (second.emotion === first.emotion || second.emotion === "neutral"); i++) second = enClause(p);
  const frame = p.rng.int(4);
  const text =
    frame === 0
      ? `${first.text}, but ${second.text}`
      : frame === 1
        ? `although ${first.text}, ${second.text}`
        : frame === 2
          ? `${first.text}. however, ${second.text}`
          : `${first.text} but ${second.text}`;
  return { text, emotion: second.emotion, intensity: second.intensity * 0.9 };
}

/** Two clauses of one polarity, or a verdict wrapped in neutral context. */
function enCompound(p: Picker): Draft {
  const main = p.chance(0.5) ? enProduct(p) : enQuality(p);
  const frame = p.rng.int(5);
  if (frame === 4) return { ...main, text: `${p.pick(lex.EN_OPENERS)} ${main.text}` };
  if (frame === 0) return { ...main, text: `${p.pick(lex.EN_NEUTRAL)} and ${main.text}` };
  if (frame === 1) return { ...main, text: `${p.pick(lex.EN_NEUTRAL)}. ${main.text}` };
  if (frame === 2) return { ...main, text: `${main.text}. ${p.pick(lex.EN_NEUTRAL)}` };
  let other = enVerdict(p);
  for (let i = 0; i < 6 && (other.emotion === "happy") !== (main.emotion === "happy"); i++) other = enVerdict(p);
  return { ...main, text: `${main.text}. ${other.text}`, intensity: Math.max(main.intensity, other.intensity) };
}

function enSurprise(p: Picker): Draft {
  const c = p.pick(lex.EN_CAUSES.surprised);
  const frames = [
    `i can't believe ${c}`,
    `wow, ${c}`,
    `i never expected that ${c}`,
    `no way, ${c}`,
    `did you hear? ${c}`,
    `who would have thought ${c}`,
  ];
  if (p.chance(0.3)) {
    const q = p.pick(lex.EN_QUALITY_POSITIVE.filter((x) => !x.text.includes(" ")));
    const e = p.pick(lex.EN_FEELING.surprised.filter((x) => !x.text.includes(" ")));
    return {
      text: `i was ${e.text} by how ${q.text} ${enThing(p)} is`,
      emotion: "surprised",
      intensity: TIER_INTENSITY[e.strength],
    };
  }
  return { text: p.pick(frames), emotion: "surprised", intensity: 0.65 };
}

/** One word of the external vocabulary in a simple frame, maybe negated. */
const NEUTRAL_WORDS = [...new Set(lex.EN_NEUTRAL_WORDS)];

function enVocabulary(p: Picker, vocabulary: readonly ScoredWord[]): Draft {
  const frames = ["it was {w}", "so {w}", "{w}", "that is {w}", "i found it {w}", "{t} is {w}", "really {w}", "how {w}"];
  if (p.chance(0.25)) {
    // The same frames with a word of no feeling: the frame alone must not decide.
    const text = p.pick(frames).replace("{w}", p.pick(NEUTRAL_WORDS)).replace("{t}", enThing(p));
    return { text, emotion: "neutral", intensity: 0.05 };
  }
  const w = p.pick(vocabulary);
  const negated = p.chance(0.2);
  const text = (negated ? "{t} is not {w}" : p.pick(frames)).replace("{w}", w.word).replace("{t}", enThing(p));
  const strength: lex.Strength = Math.abs(w.valence) >= 2.5 ? 3 : Math.abs(w.valence) >= 1.5 ? 2 : 1;
  if (negated) return w.valence > 0 ? { text, emotion: "sad", intensity: 0.35 } : { text, emotion: "neutral", intensity: 0.1 };
  return { text, emotion: polarityEmotion(w.valence > 0, strength), intensity: TIER_INTENSITY[strength] };
}

// ---------------------------------------------------------------- Chinese

function zhDegree(p: Picker, phrase: string): { text: string; delta: number } {
  if (phrase.length > 2) return { text: "", delta: 0 };
  const r = p.rng.next();
  if (r < 0.5) return { text: p.pick(lex.ZH_INTENSIFIERS), delta: 0.15 };
  if (r < 0.65) return { text: p.pick(lex.ZH_DIMINISHERS), delta: -0.15 };
  return { text: "", delta: 0 };
}

function zhFeeling(p: Picker): Draft {
  const emotion = p.pick(FEELINGS);
  const e = p.pick(lex.ZH_FEELING[emotion]);
  const deg = zhDegree(p, e.text);
  const subj = p.pick(lex.ZH_SUBJECTS);
  const head = p.pick([
    `${subj}${deg.text}${e.text}`,
    `${subj}觉得${deg.text}${e.text}`,
    `让我${deg.text}${e.text}`,
    `${subj}今天${deg.text}${e.text}`,
  ]);
  const cause = p.chance(0.35) ? `，因为${p.pick(lex.ZH_CAUSES[emotion])}` : "";
  return { text: head + cause, emotion, intensity: TIER_INTENSITY[e.strength] + deg.delta };
}

const zhThing = (p: Picker): string => {
  const item = p.pick(lex.ZH_ITEMS);
  return p.pick([item, `这个${item}`, `这${item}`, `他们的${item}`, `新买的${item}`]);
};

function zhQuality(p: Picker): Draft {
  const positive = p.chance(0.5);
  const q = p.pick(positive ? lex.ZH_QUALITY_POSITIVE : lex.ZH_QUALITY_NEGATIVE);
  const deg = zhDegree(p, q.text);
  return {
    text: `${zhThing(p)}${deg.text}${q.text}`,
    emotion: polarityEmotion(positive, q.strength),
    intensity: TIER_INTENSITY[q.strength] + deg.delta,
  };
}

function zhProduct(p: Picker): Draft {
  const positive = p.chance(0.5);
  const c = p.pick(positive ? lex.ZH_PRODUCT_POSITIVE : lex.ZH_PRODUCT_NEGATIVE);
  const thing = p.chance(0.5) ? zhThing(p) : "";
  return { text: `${thing}${c.text}`, emotion: polarityEmotion(positive, c.strength), intensity: TIER_INTENSITY[c.strength] };
}

function zhInterjection(p: Picker): Draft {
  const emotion = p.pick(FEELINGS);
  const c = p.pick(lex.ZH_INTERJECTIONS[emotion]);
  return { text: c.text, emotion, intensity: TIER_INTENSITY[c.strength] };
}

function zhNegated(p: Picker): Draft {
  if (p.chance(0.5)) {
    const emotion = p.pick(FEELINGS);
    const e = p.pick(lex.ZH_FEELING[emotion].filter((x) => x.text.length <= 2));
    const subj = p.pick(lex.ZH_SUBJECTS);
    const neg = p.pick(["不", "不太", "一点也不", "并不", "没有", "没"]);
    const text = `${subj}${neg}${e.text}`;
    if (emotion === "happy") return { text, emotion: "sad", intensity: neg === "一点也不" ? 0.55 : 0.4 };
    return { text, emotion: "neutral", intensity: 0.1 };
  }
  const positive = p.chance(0.5);
  const q = p.pick(
    (positive ? lex.ZH_QUALITY_POSITIVE : lex.ZH_QUALITY_NEGATIVE).filter((x) => x.text.length <= 2 && !x.text.startsWith("不")),
  );
  const neg = p.pick(["不", "不太", "一点都不", "并不", "不怎么"]);
  const text = `${zhThing(p)}${neg}${q.text}`;
  return positive
    ? { text, emotion: "sad", intensity: 0.3 + 0.1 * q.strength }
    : { text, emotion: q.strength === 1 ? "neutral" : "happy", intensity: 0.25 };
}

function zhNeutral(p: Picker): Draft {
  const item = p.pick(lex.ZH_ITEMS);
  const r = p.rng.next();
  const text =
    r < 0.3
      ? p.pick(lex.ZH_NEUTRAL)
      : r < 0.6
        ? `${p.pick(lex.ZH_NEUTRAL_PEOPLE)}${p.pick(lex.ZH_NEUTRAL_TIMES)}${p.pick(lex.ZH_NEUTRAL_ACTIONS).replace("{item}", item)}`
        : r < 0.85
          ? `${p.pick(["这个", "我的", "那个", ""])}${item}${p.pick(lex.ZH_NEUTRAL_SPECS)}`
          : `${p.pick(lex.ZH_NEUTRAL_QUESTIONS).replace("{item}", item)}？`;
  return { text, emotion: "neutral", intensity: 0.05 };
}

/** A verdict after a neutral opener or a neutral clause ("收到货了，质量很好"). */
function zhCompound(p: Picker): Draft {
  const main = p.chance(0.5) ? zhProduct(p) : zhQuality(p);
  return { ...main, text: p.chance(0.6) ? `${p.pick(lex.ZH_OPENERS)}${main.text}` : `${zhNeutral(p).text}，${main.text}` };
}

function zhClause(p: Picker): Draft {
  const r = p.rng.next();
  return r < 0.35 ? zhQuality(p) : r < 0.65 ? zhProduct(p) : r < 0.9 ? zhFeeling(p) : zhNeutral(p);
}

function zhContrast(p: Picker): Draft {
  const first = zhClause(p);
  let second = zhClause(p);
  for (let i = 0; i < 8 && (second.emotion === first.emotion || second.emotion === "neutral"); i++) second = zhClause(p);
  const text = p.pick([
    `虽然${first.text}，但是${second.text}`,
    `${first.text}，但${second.text}`,
    `${first.text}，可是${second.text}`,
    `${first.text}，不过${second.text}`,
  ]);
  return { text, emotion: second.emotion, intensity: second.intensity * 0.9 };
}

function zhSurprise(p: Picker): Draft {
  const c = p.pick(lex.ZH_CAUSES.surprised);
  return {
    text: p.pick([`没想到${c}`, `哇，${c}`, `天哪，${c}`, `真不敢相信${c}`, `${c}？真的吗`]),
    emotion: "surprised",
    intensity: 0.65,
  };
}

/** Chat with the digital human, maybe addressed ("hey, …", "小美，…"). */
function chat(p: Picker, lang: Language): Draft {
  const emotion: Emotion = p.chance(0.5) ? "neutral" : p.pick(FEELINGS);
  const c = p.pick((lang === "en" ? lex.EN_CHAT : lex.ZH_CHAT)[emotion]);
  const address = p.chance(0.15)
    ? lang === "en"
      ? `${p.pick(["hey", "oh", "well", "so"])}, `
      : `${p.pick(["哎", "那个", "嗯"])}，`
    : "";
  return { text: address + c.text, emotion, intensity: emotion === "neutral" ? 0.05 : TIER_INTENSITY[c.strength] };
}

// ---------------------------------------------------------------- finishing

/** End punctuation and emoji; "!" and emoji raise intensity. */
function finish(p: Picker, d: Draft, lang: Language): Draft {
  let { text, intensity } = d;
  // Time words also occur with feelings, or "today" alone would come to mean "neutral".
  if (d.emotion !== "neutral" && p.chance(0.15)) {
    text = lang === "en" ? `${text} ${p.pick(lex.EN_NEUTRAL_TIMES)}` : `${p.pick(lex.ZH_NEUTRAL_TIMES)}${text}`;
  }
  const r = p.rng.next();
  const bang = lang === "en" ? "!" : "！";
  if (d.emotion !== "neutral" && r < 0.25) {
    const n = 1 + p.rng.int(3);
    text += bang.repeat(n);
    intensity += 0.08 * Math.min(n, 2);
  } else if (d.emotion === "neutral" && r < 0.2 && !/[?？]/.test(text)) {
    text += lang === "en" ? "?" : "吗？";
  } else if (r < 0.7) {
    text += lang === "en" ? "." : "。";
  }
  if (d.emotion !== "neutral" && p.chance(0.1)) {
    text += ` ${p.pick(lex.EMOJI[d.emotion])}`;
    intensity += 0.05;
  }
  if (lang === "en") {
    // Reviews come in every case: sentence case, all lower, SHOUTING for strong feeling.
    if (p.chance(0.6)) text = text.replace(/(^|[.!?]\s+)([a-z])/g, (_m, a: string, b: string) => a + b.toUpperCase());
    text = text.replace(/\bi\b/g, "I");
    if (intensity > 0.7 && p.chance(0.05)) text = text.toUpperCase();
  }
  return { text, emotion: d.emotion, intensity: d.emotion === "neutral" ? Math.min(intensity, 0.15) : clamp01(intensity) };
}

/** A generator of labelled sentences; sample(i) is a pure function of (seed, i). */
export class EmotionSentenceGenerator {
  private readonly englishShare: number;
  private readonly vocabulary: readonly ScoredWord[];

  constructor(
    readonly seed: number,
    options: GeneratorOptions = {},
  ) {
    this.englishShare = options.englishShare ?? 0.6;
    this.vocabulary = options.vocabulary ?? [];
  }

  sample(index: number): EmotionSample {
    const p = new Picker(new Rng((Math.imul(this.seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0));
    p.rng.next();
    const lang: Language = p.chance(this.englishShare) ? "en" : "zh";
    const r = p.rng.next();
    let d: Draft;
    if (lang === "en") {
      const hasVocab = this.vocabulary.length > 0;
      d =
        r < 0.13
          ? enFeeling(p)
          : r < 0.26
            ? enQuality(p)
            : r < 0.36
              ? enProduct(p)
              : r < 0.42
                ? enVerdict(p)
                : r < 0.47
                  ? p.chance(0.5)
                    ? enInterjection(p)
                    : enService(p)
                  : r < 0.57
                    ? p.chance(0.35)
                      ? chat(p, "en")
                      : enNeutral(p)
                    : r < 0.64
                      ? enNegated(p)
                      : r < 0.68
                        ? enNegatedVerb(p)
                        : r < 0.76
                          ? enContrast(p)
                          : r < 0.84
                            ? enCompound(p)
                            : r < 0.88 || !hasVocab
                              ? enSurprise(p)
                              : enVocabulary(p, this.vocabulary);
    } else {
      d =
        r < 0.18
          ? zhFeeling(p)
          : r < 0.36
            ? zhQuality(p)
            : r < 0.5
              ? zhProduct(p)
              : r < 0.57
                ? zhInterjection(p)
                : r < 0.7
                  ? p.chance(0.35)
                    ? chat(p, "zh")
                    : zhNeutral(p)
                  : r < 0.76
                    ? zhCompound(p)
                    : r < 0.84
                      ? zhNegated(p)
                      : r < 0.93
                        ? zhContrast(p)
                        : zhSurprise(p);
    }
    return { ...finish(p, d, lang), lang };
  }

  samples(from: number, count: number): EmotionSample[] {
    return Array.from({ length: count }, (_, i) => this.sample(from + i));
  }
}

export const emotionIndex = (emotion: Emotion): number => EMOTIONS.indexOf(emotion);
