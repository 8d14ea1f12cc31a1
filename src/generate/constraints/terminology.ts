// The terminology constraint as a byte automaton. Definition (words as in lexicon.ts):
//   - every ASCII word of the text is an allowed word: a lexicon word or a general word;
//   - every CJK run of the text splits into allowed CJK words (lexicon CJK words or general
//     CJK runs), e.g. "右肺上叶见胸腔积液" = "右肺上叶" + "见" + "胸腔积液";
//   - the text is valid UTF-8.
// So a medical term can only be written from its lexicon spelling: "pleurel" is no allowed
// word, "胸腔积夜" splits into no allowed words. Multi-word terms ("pleural effusion") are
// sequences of allowed words; their order is enforced only in strict phrase mode (phrases.ts).
// A partial character is allowed only if some completion of it is (so masks never dead-end
// on half of a CJK character).

import { type ByteAutomaton, intersect } from "./automaton.js";
import { ChoiceTrie } from "./choiceTrie.js";
import { cjkRanges, isCjk, type Lexicon, splitWords } from "./lexicon.js";
import { type PhraseState, phraseAutomaton } from "./phrases.js";
import { utf8AtBoundary, utf8CodePoint, utf8Start, utf8Step } from "./utf8.js";

export interface TerminologyOptions {
  /** Non-medical words and texts the output may use (split into words; e.g. `generalWordsFromTexts`). */
  generalWords: Iterable<string>;
  /** Strict phrase mode (phrases.ts): a multi-word term started with a bound word must be completed. Default false. */
  strictPhrases?: boolean;
}

export interface TerminologyState {
  readonly utf8: number;
  /** The node of the ASCII word being read in the word trie, or -1 between words. */
  readonly word: number;
  /** The positions in the CJK word trie the current run may be at, ascending; 0 = between words. */
  readonly cjk: readonly number[];
}

/** A trie over code points whose every node is a prefix of some word. */
class CodePointTrie {
  readonly children: Map<number, number>[] = [new Map()];
  readonly terminal: boolean[] = [false];

  add(word: string): void {
    let node = 0;
    for (const ch of word) {
      const cp = ch.codePointAt(0)!;
      let next = this.children[node].get(cp);
      if (next === undefined) {
        next = this.children.length;
        this.children.push(new Map());
        this.terminal.push(false);
        this.children[node].set(cp, next);
      }
      node = next;
    }
    this.terminal[node] = true;
  }
}

const isLetterByte = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

/** Whether [lo, hi] holds a code point outside the CJK ranges. */
function hasNonCjk(lo: number, hi: number): boolean {
  let from = lo;
  for (const [a, b] of cjkRanges) {
    if (b < from) continue;
    if (a > from) return true;
    from = b + 1;
    if (from > hi) return false;
  }
  return from <= hi;
}

/** The terminology automaton of `lexicon` plus the general words. */
export function terminologyAutomaton(
  lexicon: Lexicon,
  options: TerminologyOptions & { strictPhrases: true },
): ByteAutomaton<readonly [TerminologyState, PhraseState]>;
export function terminologyAutomaton(lexicon: Lexicon, options: TerminologyOptions): ByteAutomaton<TerminologyState>;
export function terminologyAutomaton(
  lexicon: Lexicon,
  options: TerminologyOptions,
): ByteAutomaton<TerminologyState> | ByteAutomaton<readonly [TerminologyState, PhraseState]> {
  const generalWords = [...options.generalWords];
  const words = wordAutomaton(lexicon, generalWords);
  return options.strictPhrases ? intersect(words, phraseAutomaton(lexicon, generalWords)) : words;
}

function wordAutomaton(lexicon: Lexicon, generalWords: readonly string[]): ByteAutomaton<TerminologyState> {
  const asciiWords = new Set(lexicon.words);
  const cjkTrie = new CodePointTrie();
  for (const w of lexicon.cjkWords) cjkTrie.add(w);
  for (const text of generalWords) {
    const split = splitWords(text);
    for (const w of split.words) asciiWords.add(w.word);
    for (const r of split.cjkRuns) cjkTrie.add(r.run);
  }
  const encoder = new TextEncoder();
  const wordTrie = new ChoiceTrie([...asciiWords].map((w) => encoder.encode(w)));
  const between = [0];

  /** The positions after CJK character `cp`, or undefined when the run cannot continue with it. */
  const stepCjk = (positions: readonly number[], cp: number): number[] | undefined => {
    const next = new Set<number>();
    let wordEnds = false;
    for (const p of positions) {
      const child = cjkTrie.children[p].get(cp);
      if (child === undefined) continue;
      if (cjkTrie.terminal[child]) wordEnds = true;
      // a finished word with no longer continuation is the same as "between words"
      if (!(cjkTrie.terminal[child] && cjkTrie.children[child].size === 0)) next.add(child);
    }
    if (wordEnds) next.add(0);
    return next.size === 0 ? undefined : [...next].sort((a, b) => a - b);
  };

  /** Whether some character in [lo, hi] may come next. */
  const charPossible = (positions: readonly number[], lo: number, hi: number): boolean => {
    if (positions[0] === 0 && hasNonCjk(lo, hi)) return true;
    for (const p of positions) {
      for (const cp of cjkTrie.children[p].keys()) if (cp >= lo && cp <= hi) return true;
    }
    return false;
  };

  return {
    start: { utf8: utf8Start, word: -1, cjk: between },
    step(state, byte) {
      const utf8 = utf8Step(state.utf8, byte);
      if (utf8 < 0) return undefined;
      let { word, cjk } = state;
      if (isLetterByte(byte)) {
        const at = wordTrie.child(Math.max(word, 0), byte | 0x20);
        if (at < 0) return undefined;
        if (cjk[0] !== 0) return undefined; // a CJK run ends mid-word
        return { utf8, word: at, cjk: between };
      }
      if (word >= 0) {
        if (wordTrie.outcomeAt(word) < 0) return undefined; // an unfinished word
        word = -1;
      }
      if (!utf8AtBoundary(utf8)) {
        // a character under way: allowed iff one of its completions is
        const left = (utf8 >> 3) & 3;
        const range = utf8 & 7; // right after an E0 / F0 / F4 lead the valid code points are narrower
        const raw = utf8CodePoint(utf8) << (6 * left);
        const lo = range === 1 ? Math.max(raw, 0x800) : range === 3 ? Math.max(raw, 0x10000) : raw;
        const hi = Math.min(raw | ((1 << (6 * left)) - 1), 0x10ffff);
        return charPossible(cjk, lo, hi) ? { utf8, word, cjk } : undefined;
      }
      const cp = utf8CodePoint(utf8);
      if (isCjk(cp)) {
        const next = stepCjk(cjk, cp);
        return next === undefined ? undefined : { utf8, word, cjk: next };
      }
      if (cjk[0] !== 0) return undefined;
      return { utf8, word, cjk: between };
    },
    accepting: (state) =>
      utf8AtBoundary(state.utf8) && (state.word < 0 || wordTrie.outcomeAt(state.word) >= 0) && state.cjk[0] === 0,
    // the partial character's bits matter (they narrow what may complete it); a finished one's do not
    key: (state) => `${utf8AtBoundary(state.utf8) ? 0 : state.utf8}|${state.word}|${state.cjk.join(",")}`,
  };
}
