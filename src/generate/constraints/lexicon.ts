// Words as the terminology constraint and the checker see them:
//   ASCII word  a maximal run of ASCII letters [A-Za-z], compared lower-cased ("Pleural" = "pleural");
//               hyphens, digits, spaces and punctuation separate words
//   CJK run     a maximal run of CJK ideographs; it must split into allowed CJK words
// Everything else (digits, punctuation, other scripts) is free text.

/** The medical terms a report may use, split into the words the constraint checks. */
export interface Lexicon {
  /** Every term as written (English and Chinese). */
  readonly terms: readonly string[];
  /** Lower-cased ASCII words of the terms. */
  readonly words: ReadonlySet<string>;
  /** CJK runs of the terms. */
  readonly cjkWords: ReadonlySet<string>;
}

/** Whether a code point is a CJK ideograph (URO, extension A, compatibility, extensions B–G). */
export function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x20000 && cp <= 0x3134f)
  );
}

/** The CJK code point ranges, for the partial-character check of the terminology automaton. */
export const cjkRanges: readonly (readonly [number, number])[] = [
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xf900, 0xfaff],
  [0x20000, 0x3134f],
];

const isAsciiLetter = (c: string): boolean => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");

/** A text's ASCII words (lower-cased, with offsets) and CJK runs, in order. */
export function splitWords(text: string): {
  words: { word: string; index: number }[];
  cjkRuns: { run: string; index: number }[];
} {
  const words: { word: string; index: number }[] = [];
  const cjkRuns: { run: string; index: number }[] = [];
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (isAsciiLetter(text[i])) {
      let j = i;
      while (j < text.length && isAsciiLetter(text[j])) j++;
      words.push({ word: text.slice(i, j).toLowerCase(), index: i });
      i = j;
    } else if (isCjk(cp)) {
      let j = i;
      while (j < text.length && isCjk(text.codePointAt(j)!)) j += text.codePointAt(j)! > 0xffff ? 2 : 1;
      cjkRuns.push({ run: text.slice(i, j), index: i });
      i = j;
    } else {
      i += width;
    }
  }
  return { words, cjkRuns };
}

/** A lexicon from terms (strings, or { en, zh } pairs such as the synthetic data's `reportTerms`). */
export function lexiconFromTerms(terms: Iterable<string | { en: string; zh: string }>): Lexicon {
  const all: string[] = [];
  for (const t of terms) {
    if (typeof t === "string") all.push(t);
    else all.push(t.en, t.zh);
  }
  const words = new Set<string>();
  const cjkWords = new Set<string>();
  for (const term of all) {
    const split = splitWords(term);
    for (const w of split.words) words.add(w.word);
    for (const r of split.cjkRuns) cjkWords.add(r.run);
  }
  return { terms: [...new Set(all)], words, cjkWords };
}

/**
 * The general (non-medical) words of some texts, e.g. the training reports: every ASCII word,
 * and every CJK run left after cutting out the lexicon's CJK words (longest first).
 */
export function generalWordsFromTexts(texts: Iterable<string>, lexicon: Lexicon): string[] {
  const out = new Set<string>();
  const cjkTerms = [...lexicon.cjkWords].sort((a, b) => b.length - a.length);
  for (const text of texts) {
    let rest = text;
    for (const term of cjkTerms) rest = rest.split(term).join(" ");
    const split = splitWords(rest);
    for (const w of split.words) out.add(w.word);
    for (const r of split.cjkRuns) out.add(r.run);
  }
  return [...out].sort();
}
