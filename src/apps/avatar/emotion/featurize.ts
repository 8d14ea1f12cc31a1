// Text -> the classifier's input: per token, a few hashed feature ids (the token, the
// token with its left neighbour, a few character n-grams), a negation flag (the token
// sits in the scope of "not", "never", "不", "没" …) and a contrast segment (before or
// after "but" / "但是"). fastText-style hashing needs no vocabulary file and works for
// English words, Chinese characters, emoticons and emoji alike. Browser-safe: no Node imports.
//
// Dims: T tokens per text, F feature slots per token, H hash buckets (id 0 = padding).

import type { EmotionFeatures } from "../../../models/index.js";
import { hashString } from "../../../runtime/index.js";

export interface FeaturizerConfig {
  /** Hash buckets H; ids are in [1, H), 0 pads. */
  buckets: number;
  /** Tokens per text T; longer texts keep their last tokens (the end of a review carries its verdict). */
  maxTokens: number;
  /** Feature slots per token F: the token, its bigram, then character n-grams. */
  featuresPerToken: number;
}

/** Contrast segment of a token: 0 no contrast in the text, 1 before the contrast word, 2 after it. */
export const SEGMENTS = 3;

export interface Token {
  text: string;
  kind: "word" | "han" | "symbol";
  negated: boolean;
  segment: 0 | 1 | 2;
}

const EN_NEGATORS = new Set([
  "not",
  "no",
  "never",
  "without",
  "nor",
  "neither",
  "hardly",
  "barely",
  "cannot",
  "nothing",
  "nobody",
  "none",
  "dont",
  "doesnt",
  "didnt",
  "isnt",
  "wasnt",
  "arent",
  "werent",
  "cant",
  "couldnt",
  "wont",
  "wouldnt",
  "shouldnt",
  "havent",
  "hasnt",
  "hadnt",
  "aint",
]);
/** Words that end a negation scope and open the clause that carries the verdict. */
const EN_CONTRAST = new Set(["but", "however", "yet", "though", "although", "nevertheless", "except"]);
/** Concessive openers: the clause they open is the weaker one ("although X, Y"). */
const EN_CONCESSIVE = new Set(["although", "though", "while", "despite"]);
const ZH_NEGATORS = new Set(["不", "没", "别", "未", "无", "甭"]);
/** Two-character words starting with a negator character that are not negations. */
const ZH_NOT_NEGATION = new Set([
  "不错",
  "不过",
  "不断",
  "不少",
  "不仅",
  "不禁",
  "不得",
  "没想",
  "无论",
  "别人",
  "未来",
  "无聊",
  "无语",
  "不满",
]);
const ZH_CONTRAST = ["但是", "可是", "不过", "然而", "但", "却"];
const ZH_CONCESSIVE = ["虽然", "尽管", "虽说"];
const CLAUSE_BREAK = /^[.,;:!?。，；：！？、…]+$/;

// Emoticons first (so ":)" is not split), then words, CJK characters, emoji, punctuation.
const TOKEN_PATTERN =
  /(?:[:;=8][-'^o]?[)(\][dpo/\\|*3]+|[)(\][][-'^]?[:;=]|<3+|\^_?\^|t_t|\bx[d]\b)|[\p{L}\p{N}]+(?:'[\p{L}]+)?|[.,;:!?。，；：！？、…]+|\p{Extended_Pictographic}/gu;
const HAN = /\p{Script=Han}/u;

/** NFKC, lower case, curly quotes to straight ones. */
export const normalizeText = (text: string): string =>
  text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc]/g, "'");

/** Split a text into tokens: English words, single Han characters, emoticons, emoji and punctuation runs. */
export function tokenize(text: string): Token[] {
  const raw: Token[] = [];
  for (const m of normalizeText(text).matchAll(TOKEN_PATTERN)) {
    const piece = m[0];
    if (HAN.test(piece)) {
      // A run of letters may mix Han and Latin ("iphone很好"): split Han characters off.
      for (const part of piece.match(/\p{Script=Han}|[^\p{Script=Han}]+/gu) ?? []) {
        raw.push({ text: part, kind: HAN.test(part) ? "han" : "word", negated: false, segment: 0 });
      }
    } else if (/^[\p{L}\p{N}]/u.test(piece)) {
      raw.push({ text: piece.replace(/'/g, ""), kind: "word", negated: false, segment: 0 });
    } else {
      // Punctuation: keep "!" and "?" (they carry feeling), fold runs ("!!!" -> "!!").
      const folded = piece
        .replace(/([!?！？])\1+/g, "$1$1")
        .replace(/！/g, "!")
        .replace(/？/g, "?");
      raw.push({ text: folded, kind: "symbol", negated: false, segment: 0 });
    }
  }
  markNegation(raw);
  markContrast(raw);
  return raw;
}

function markNegation(tokens: Token[]): void {
  let scope = 0; // tokens still to negate
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind === "symbol" && CLAUSE_BREAK.test(t.text)) {
      scope = 0;
      continue;
    }
    if (t.kind === "word") {
      if (EN_CONTRAST.has(t.text)) {
        scope = 0;
        continue;
      }
      if (scope > 0) {
        t.negated = true;
        scope--;
      }
      if (EN_NEGATORS.has(t.text)) scope = 4;
      continue;
    }
    if (t.kind === "han") {
      const pair = t.text + (tokens[i + 1]?.text ?? "");
      if (scope > 0) {
        t.negated = true;
        scope--;
      }
      if (ZH_NEGATORS.has(t.text) && !ZH_NOT_NEGATION.has(pair)) scope = 2;
    }
  }
}

function markContrast(tokens: Token[]): void {
  const joined = tokens.map((t) => t.text);
  const hanText = joined.join("");
  let pivot = -1; // first token of the main clause
  let concessiveEnd = -1;
  for (let i = 0; i < tokens.length; i++) {
    const w = joined[i];
    if (i > 0 && tokens[i].kind === "word" && EN_CONTRAST.has(w) && !EN_CONCESSIVE.has(w)) {
      pivot = i;
      break;
    }
    if (tokens[i].kind === "han") {
      const rest = hanText.slice(joined.slice(0, i).join("").length);
      if (i > 0 && ZH_CONTRAST.some((c) => rest.startsWith(c)) && !rest.startsWith("不过瘾")) {
        pivot = i;
        break;
      }
    }
    if (i === 0 && (EN_CONCESSIVE.has(w) || ZH_CONCESSIVE.some((c) => hanText.startsWith(c)))) concessiveEnd = 0;
    if (concessiveEnd === 0 && i > 0 && tokens[i].kind === "symbol" && /[,，;；]/.test(w)) {
      pivot = i + 1;
      break;
    }
  }
  if (pivot <= 0 || pivot >= tokens.length) return;
  tokens.forEach((t, i) => {
    t.segment = i < pivot ? 1 : 2;
  });
}

/** Hash of a feature string into [1, buckets). */
const bucket = (s: string, buckets: number): number => 1 + (hashString(s) % (buckets - 1));

/** Feature strings of one token: itself, its bigram with the previous token, then char n-grams. */
function tokenFeatures(tokens: readonly Token[], i: number, slots: number): string[] {
  const t = tokens[i];
  const prev = i > 0 ? tokens[i - 1].text : "<s>";
  const out = [`w:${t.text}`, `b:${prev}|${t.text}`];
  if (t.kind === "word" && t.text.length > 3) {
    // Character 3- and 4-grams of "<word>" reach unseen inflections (disappoint-ing/-ed).
    const w = `<${t.text}>`;
    for (const n of [4, 3]) {
      for (let s = 0; s + n <= w.length && out.length < slots; s++) out.push(`c${n}:${w.slice(s, s + n)}`);
    }
  } else if (t.kind === "han" && i + 1 < tokens.length && tokens[i + 1].kind === "han") {
    out.push(`b:${t.text}|${tokens[i + 1].text}>`); // right bigram: "好" in "好用" vs "好的"
  }
  return out.slice(0, slots);
}

/** Featurise a batch of texts. */
export function featurize(texts: readonly string[], cfg: FeaturizerConfig): EmotionFeatures {
  const { maxTokens: T, featuresPerToken: F, buckets } = cfg;
  const n = texts.length;
  const ids = new BigInt64Array(n * T * F);
  const negated = new Float32Array(n * T);
  const segment = new BigInt64Array(n * T);
  const mask = new Float32Array(n * T);
  texts.forEach((text, b) => {
    const all = tokenize(text);
    const first = Math.max(0, all.length - T);
    for (let i = first; i < all.length; i++) {
      const t = i - first;
      const row = b * T + t;
      mask[row] = 1;
      negated[row] = all[i].negated ? 1 : 0;
      segment[row] = BigInt(all[i].segment);
      tokenFeatures(all, i, F).forEach((f, k) => {
        ids[row * F + k] = BigInt(bucket(f, buckets));
      });
    }
  });
  return { ids, negated, segment, mask };
}
