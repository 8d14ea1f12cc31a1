// Strict phrase mode of the terminology constraint: a multi-word lexicon entry, once started
// with a bound word, must be completed. Definitions:
//   phrase       a lexicon term of ≥ 2 ASCII words joined only by single spaces or hyphens
//                ("pleural effusion", "lobulated soft-tissue mass"); other multi-word terms
//                (sentences with commas) are not phrases, their words are standalone
//   standalone   a general word, a single-word term, or a word of a term that is no phrase
//   bound word   a phrase word that is not standalone ("pleural" when only "pleural effusion"
//                and "pleural effusions" hold it)
// Every bound word of the text must lie inside a complete phrase written with single spaces
// or hyphens between its words (case-insensitive). Standalone words are free; a phrase may be
// continued by them ("right upper lobe") but need not be. Only ASCII words are checked here;
// `terminologyAutomaton` intersects this with the word constraint.
//
// Letters are allowed only while they can still spell a word that may end there, so the
// constraint has no dead ends: while a phrase is pending only its continuations may be typed.

import type { ByteAutomaton } from "./automaton.js";
import type { Lexicon } from "./lexicon.js";
import { splitWords } from "./lexicon.js";

export interface PhraseState {
  /** The ASCII word being typed (lower-cased), "" between words. */
  readonly prefix: string;
  /** Separators since the last word: 0 none, 1 one space or hyphen, 2 anything else. */
  readonly sep: 0 | 1 | 2;
  /** Active nodes in the phrase trie after the last word, ascending. */
  readonly phrase: readonly number[];
  /** A bound word is not yet inside a completed phrase: the active phrases must go on. */
  readonly committed: boolean;
}

/** A trie over word sequences. */
class PhraseTrie {
  readonly children: Map<string, number>[] = [new Map()];
  readonly terminal: boolean[] = [false];

  add(words: readonly string[]): void {
    let node = 0;
    for (const w of words) {
      let next = this.children[node].get(w);
      if (next === undefined) {
        next = this.children.length;
        this.children.push(new Map());
        this.terminal.push(false);
        this.children[node].set(w, next);
      }
      node = next;
    }
    this.terminal[node] = true;
  }
}

const isLetterByte = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

/** The phrases of a lexicon and its standalone words (see the file comment). */
export function lexiconPhrases(
  lexicon: Lexicon,
  generalWords: Iterable<string>,
): { phrases: string[][]; standalone: Set<string> } {
  const standalone = new Set<string>();
  for (const text of generalWords) for (const w of splitWords(text).words) standalone.add(w.word);
  const phrases: string[][] = [];
  for (const term of lexicon.terms) {
    const { words } = splitWords(term);
    if (words.length === 0) continue;
    const gaps = words.slice(1).map((w, i) => term.slice(words[i].index + words[i].word.length, w.index));
    const isPhrase =
      words.length >= 2 &&
      gaps.every((g) => g === " " || g === "-") &&
      words[0].index === 0 &&
      words.at(-1)!.index + words.at(-1)!.word.length === term.length;
    if (isPhrase) phrases.push(words.map((w) => w.word));
    else for (const w of words) standalone.add(w.word);
  }
  return { phrases, standalone };
}

/** The strict phrase automaton of a lexicon, given the general words. */
export function phraseAutomaton(lexicon: Lexicon, generalWords: Iterable<string>): ByteAutomaton<PhraseState> {
  const { phrases, standalone } = lexiconPhrases(lexicon, generalWords);
  const trie = new PhraseTrie();
  for (const p of phrases) trie.add(p);
  const bound = (w: string): boolean => !standalone.has(w);
  // words that may start a word when no phrase is pending: standalone words and phrase openers
  const openWords = [...new Set([...standalone, ...trie.children[0].keys()])];
  const openPrefixes = new Set<string>();
  for (const w of openWords) for (let i = 0; i <= w.length; i++) openPrefixes.add(w.slice(0, i));

  const continuations = (phrase: readonly number[]): string[] => phrase.flatMap((n) => [...trie.children[n].keys()]);

  /** The state after the word `state.prefix` ends, or undefined when it may not end here. */
  const endWord = (state: PhraseState): PhraseState | undefined => {
    const w = state.prefix;
    const cont: number[] = [];
    if (state.sep === 1)
      for (const n of state.phrase) {
        const c = trie.children[n].get(w);
        if (c !== undefined) cont.push(c);
      }
    let paths: number[];
    if (state.committed) {
      if (cont.length === 0) return undefined;
      paths = cont;
    } else {
      const start = trie.children[0].get(w);
      paths = start === undefined ? cont : [...cont, start];
      if (paths.length === 0 && bound(w)) return undefined;
    }
    const completes = paths.some((n) => trie.terminal[n]);
    const committed = (state.committed || bound(w)) && !completes;
    const live = [...new Set(paths.filter((n) => trie.children[n].size > 0))].sort((a, b) => a - b);
    return { prefix: "", sep: 0, phrase: live, committed };
  };

  return {
    start: { prefix: "", sep: 2, phrase: [], committed: false },
    step(state, byte) {
      if (isLetterByte(byte)) {
        const prefix = state.prefix + String.fromCharCode(byte | 0x20);
        const canOpen = !state.committed && openPrefixes.has(prefix);
        const canContinue = state.sep === 1 && continuations(state.phrase).some((w) => w.startsWith(prefix));
        return canOpen || canContinue ? { ...state, prefix } : undefined;
      }
      let s: PhraseState | undefined = state;
      if (state.prefix !== "") s = endWord(state);
      if (s === undefined) return undefined;
      const joiner = byte === 0x20 || byte === 0x2d;
      if (s.committed) return joiner && s.sep === 0 ? { ...s, sep: 1 } : undefined;
      if (joiner && s.sep === 0) return { ...s, sep: 1 };
      return s.sep === 2 && s.phrase.length === 0 ? s : { prefix: "", sep: 2, phrase: [], committed: false };
    },
    accepting(state) {
      const s = state.prefix === "" ? state : endWord(state);
      return s !== undefined && !s.committed;
    },
    key: (state) => `${state.prefix}|${state.sep}|${state.phrase.join(",")}|${state.committed ? 1 : 0}`,
  };
}
