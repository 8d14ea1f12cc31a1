// Checking any text (generated with or without constraints) for misspelled medical terms,
// and the shipped lexicon against a real medical word list.
//
// A word is medical-looking when it is in the medical word list, or within edit distance 2
// of a lexicon word (length ≥ 5, so "lobe"/"love" stay apart); a CJK run holds a
// medical-looking span where a substring equals a lexicon CJK word (≥ 2 characters) or
// differs from one of ≥ 3 characters in one character (the longest such span wins, unless
// lexicon CJK words side by side cover it: "大量实变" is 大量 + 实变 and "左肺小叶中心型肺气肿"
// is 左肺 + 小叶中心型肺气肿, as the terminology automaton writes them, not misspellings of
// 大片实变 or 左肺上叶). A medical-looking word is valid iff it
// is a lexicon word exactly (lower-cased); a CJK span iff it is a lexicon CJK word exactly.

import { existsSync, readFileSync } from "node:fs";
import { type Lexicon, splitWords } from "./lexicon.js";

/** Where Debian's hunspell-en-med installs its medical word list (a supplement to a general English dictionary). */
export const debianMedicalDictionary = "/usr/share/hunspell/en_med_glut.dic";

/** One medical-looking word or CJK span of a text. */
export interface TermHit {
  text: string;
  index: number;
  valid: boolean;
  /** For an invalid hit: the nearest lexicon word. */
  nearest?: string;
}

export interface TermValidity {
  terms: TermHit[];
  valid: number;
  invalid: number;
  /** valid / terms (1 when the text has no medical-looking word). */
  rate: number;
}

/** Levenshtein distance, giving up (returning limit + 1) once it exceeds `limit`. */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
      rowMin = Math.min(rowMin, current[j]);
    }
    if (rowMin > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length];
}

/**
 * Reads a hunspell .dic file (first line: the count; "word/FLAGS"; indented lines are comments)
 * or a plain list (one word a line) into lower-cased words. Affix flags are dropped, so only
 * base forms are listed.
 */
export function readWordList(path: string): Set<string> {
  const words = new Set<string>();
  const lines = readFileSync(path, "utf8").split("\n");
  lines.forEach((line, i) => {
    if (i === 0 && /^\d+\s*$/.test(line)) return;
    if (line.length === 0 || /^\s/.test(line) || line.startsWith("#")) return;
    const word = line.split("/")[0].trim().toLowerCase();
    if (word.length > 0) words.add(word);
  });
  return words;
}

/** The Debian medical word list if installed (`apt-get install hunspell-en-med`), else null. */
export function loadMedicalWordList(path = debianMedicalDictionary): Set<string> | null {
  return existsSync(path) ? readWordList(path) : null;
}

/** Finds the medical-looking words of `text` and which are not exact lexicon entries. */
export function termValidity(text: string, lexicon: Lexicon, medicalWordList: ReadonlySet<string> = new Set()): TermValidity {
  const terms: TermHit[] = [];
  const lexiconWords = [...lexicon.words];
  const split = splitWords(text);
  for (const { word, index } of split.words) {
    if (lexicon.words.has(word)) {
      terms.push({ text: word, index, valid: true });
      continue;
    }
    let nearest: string | undefined;
    let best = 3;
    if (word.length >= 5) {
      for (const w of lexiconWords) {
        if (w.length < 5) continue;
        const d = editDistance(word, w, 2);
        if (d < best) {
          best = d;
          nearest = w;
        }
      }
    }
    if (nearest !== undefined || medicalWordList.has(word)) terms.push({ text: word, index, valid: false, nearest });
  }
  const cjkTerms = [...lexicon.cjkWords].filter((w) => [...w].length >= 2);
  const longestCjk = Math.max(0, ...[...lexicon.cjkWords].map((w) => [...w].length));
  /** Whether a chain of lexicon CJK words starting at `from` reaches `to` or beyond. */
  const wordsCover = (chars: string[], from: number, to: number): boolean => {
    const reached = new Set([from]);
    for (let p = from; p < to; p++) {
      if (!reached.has(p)) continue;
      for (let length = 1; length <= longestCjk && p + length <= chars.length; length++) {
        if (!lexicon.cjkWords.has(chars.slice(p, p + length).join(""))) continue;
        if (p + length >= to) return true;
        reached.add(p + length);
      }
    }
    return false;
  };
  for (const { run, index } of split.cjkRuns) {
    const chars = [...run];
    let i = 0;
    while (i < chars.length) {
      // the longest lexicon-length span that matches a term with ≤ 1 different character; exact first
      let hit: TermHit | undefined;
      let hitLength = 0;
      for (const term of cjkTerms) {
        const termChars = [...term];
        if (i + termChars.length > chars.length || termChars.length < hitLength) continue;
        const span = chars.slice(i, i + termChars.length);
        const differences = span.reduce((n, c, k) => n + (c === termChars[k] ? 0 : 1), 0);
        // one wrong character is a misspelling only in terms of ≥ 3 characters ("大小" is not "大量")
        if (differences > 1 || (differences === 1 && termChars.length < 3)) continue;
        const exact = differences === 0;
        if (termChars.length > hitLength || (exact && hit !== undefined && !hit.valid)) {
          hit = exact ? { text: term, index, valid: true } : { text: span.join(""), index, valid: false, nearest: term };
          hitLength = termChars.length;
        }
      }
      if (hit !== undefined && !hit.valid && wordsCover(chars, i, i + hitLength)) {
        // not a misspelling but several words: take the longest exact word here, if any
        hit = undefined;
        for (const term of cjkTerms) {
          const length = [...term].length;
          if (length > hitLength || (hit && length <= [...hit.text].length)) continue;
          if (chars.slice(i, i + length).join("") === term) hit = { text: term, index, valid: true };
        }
      }
      if (hit === undefined) {
        i++;
        continue;
      }
      terms.push(hit);
      i += [...hit.text].length;
    }
  }
  const valid = terms.filter((t) => t.valid).length;
  return { terms, valid, invalid: terms.length - valid, rate: terms.length === 0 ? 1 : valid / terms.length };
}

/** The lexicon's ASCII words missing from a medical word list (expected: general words such as "right"). */
export function lexiconWordsMissingFrom(lexicon: Lexicon, medicalWordList: ReadonlySet<string>): string[] {
  return [...lexicon.words].filter((w) => !medicalWordList.has(w)).sort();
}
