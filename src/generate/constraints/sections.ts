// The report's section grammar, as a byte automaton:
//   en: "FINDINGS:\n" findings "\n\nIMPRESSION:\n" impression
//   zh: "检查所见：" findings "\n\n诊断意见：" impression
// Both bodies are UTF-8 text that contains no section header ("FINDINGS:", "IMPRESSION:" /
// "检查所见：", "诊断意见："); the findings body ends at the first separator. Each body needs a
// non-whitespace character (whitespace as String.prototype.trim sees it); the text is accepting once the impression has one.
// Optional byte budgets per body make decoding finish. Past its budget a non-empty body
// closes at the next break (a character boundary after a character that is neither an ASCII
// letter nor CJK, so a word or CJK run in progress is never cut), and at the latest
// `hardMarginBytes` (default 64) past the budget, at any character boundary. Closing means
// the findings body may only continue with the separator, and the impression may only end.
// Intersected with the terminology constraint, a dead end can only come from a word or CJK
// run still open at the hard margin.
//
// Header matching keeps the longest suffix of the text that is a prefix of a header or the
// separator (as in Aho–Corasick), so states stay few and memoisable.

import type { ByteAutomaton } from "./automaton.js";
import { isCjk } from "./lexicon.js";
import { utf8AtBoundary, utf8CodePoint, utf8Start, utf8Step } from "./utf8.js";

export interface SectionOptions {
  lang: "en" | "zh";
  /** Most bytes per body before it is closed (see the file comment). Default: unbounded. */
  maxBodyBytes?: { findings?: number; impression?: number };
  /** Bytes past a budget after which a body closes even inside a word (default 64). */
  hardMarginBytes?: number;
}

interface SectionFormat {
  opening: string;
  separator: string;
  headers: readonly string[];
}

/** The section headers of a report, per language. */
export const sectionFormats: Readonly<Record<SectionOptions["lang"], SectionFormat>> = Object.freeze({
  en: { opening: "FINDINGS:\n", separator: "\n\nIMPRESSION:\n", headers: ["FINDINGS:", "IMPRESSION:"] },
  zh: { opening: "检查所见：", separator: "\n\n诊断意见：", headers: ["检查所见：", "诊断意见："] },
});

/** Where the text is. */
type Phase = "opening" | "findings" | "impression";

export interface SectionState {
  readonly phase: Phase;
  /** Opening: bytes of the opening read; bodies: bytes of the body read. */
  readonly count: number;
  /** The longest suffix of the body that is a prefix of a header or the separator (bytes as latin1). */
  readonly suffix: string;
  readonly utf8: number;
  /** The body has a non-whitespace character. */
  readonly nonEmpty: boolean;
}

const latin1Bytes = (text: string): string => String.fromCharCode(...new TextEncoder().encode(text));

/** At a boundary after a character that ends any word or CJK run (or at the body's start). */
function isBreak(utf8: number): boolean {
  const cp = utf8CodePoint(utf8);
  return !((cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || isCjk(cp));
}

/** Whitespace as String.prototype.trim sees it (Unicode White_Space and U+FEFF); all below U+3001 but U+FEFF. */
const whitespace: ReadonlySet<number> = (() => {
  const set = new Set<number>([0xfeff]);
  for (let cp = 0; cp <= 0x3000; cp++) if (String.fromCodePoint(cp).trim() === "") set.add(cp);
  return set;
})();

/** The section grammar of a report in `lang`. */
export function sectionAutomaton(options: SectionOptions): ByteAutomaton<SectionState> {
  const format = sectionFormats[options.lang];
  if (format === undefined) throw new RangeError(`lang must be "en" or "zh", got ${JSON.stringify(options.lang)}`);
  const budget = (n: number | undefined, what: string): number => {
    if (n === undefined) return Number.POSITIVE_INFINITY;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`maxBodyBytes.${what} must be an integer ≥ 1, got ${n}`);
    return n;
  };
  const findingsBudget = budget(options.maxBodyBytes?.findings, "findings");
  const impressionBudget = budget(options.maxBodyBytes?.impression, "impression");
  const hardMargin = options.hardMarginBytes ?? 64;
  if (!Number.isInteger(hardMargin) || hardMargin < 0)
    throw new RangeError(`hardMarginBytes must be an integer ≥ 0, got ${hardMargin}`);
  const opening = latin1Bytes(format.opening);
  const separator = latin1Bytes(format.separator);
  const headers = format.headers.map(latin1Bytes);
  const patterns = [separator, ...headers];
  const isPatternPrefix = (s: string): boolean => patterns.some((p) => p.startsWith(s));
  const patternStarts = new Set(patterns.map((p) => p.charCodeAt(0)));
  const noMatch = { suffix: "", separated: false };

  /** The suffix after appending `byte`, or undefined when a header appears where none may. */
  const matchHeaders = (state: SectionState, byte: number): { suffix: string; separated: boolean } | undefined => {
    const text = state.suffix + String.fromCharCode(byte);
    const inFindings = state.phase === "findings";
    // the only header a body may hold is the one inside a separator that closes the findings
    if (inFindings && separator.startsWith(text)) return { suffix: text, separated: text === separator };
    if (headers.some((h) => text.endsWith(h))) return undefined;
    // a pending separator whose header is already complete must be finished
    if (inFindings && headers.some((h) => state.suffix.endsWith(h))) return undefined;
    let suffix = text;
    while (suffix.length > 0 && !isPatternPrefix(suffix)) suffix = suffix.slice(1);
    return { suffix, separated: false };
  };

  return {
    start: { phase: "opening", count: 0, suffix: "", utf8: utf8Start, nonEmpty: false },
    step(state, byte) {
      if (state.phase === "opening") {
        if (opening.charCodeAt(state.count) !== byte) return undefined;
        return state.count + 1 === opening.length
          ? { phase: "findings", count: 0, suffix: "", utf8: utf8Start, nonEmpty: false }
          : { ...state, count: state.count + 1 };
      }
      const inFindings = state.phase === "findings";
      const limit = inFindings ? findingsBudget : impressionBudget;
      // (a separator under way is closing too, even inside one of its multi-byte characters)
      const closing =
        state.nonEmpty &&
        state.count >= limit &&
        ((utf8AtBoundary(state.utf8) && (state.count >= limit + hardMargin || isBreak(state.utf8))) ||
          (state.suffix.length > 0 && separator.startsWith(state.suffix)));
      if (closing) {
        // findings: only the rest of the separator; impression: nothing more
        if (!inFindings) return undefined;
        const pending = separator.startsWith(state.suffix) ? state.suffix : "";
        if (separator.charCodeAt(pending.length) !== byte) return undefined;
      }
      const utf8 = utf8Step(state.utf8, byte);
      if (utf8 < 0) return undefined;
      // fast path: most body bytes neither continue nor start a header
      const matched = state.suffix === "" && !patternStarts.has(byte) ? noMatch : matchHeaders(state, byte);
      if (matched === undefined) return undefined;
      if (matched.separated) {
        if (!state.nonEmpty || !utf8AtBoundary(utf8)) return undefined;
        return { phase: "impression", count: 0, suffix: "", utf8: utf8Start, nonEmpty: false };
      }
      // bytes of a pending separator do not make the findings non-empty
      const nonEmpty =
        state.nonEmpty ||
        (utf8AtBoundary(utf8) &&
          !whitespace.has(utf8CodePoint(utf8)) &&
          !(inFindings && separator.startsWith(matched.suffix) && matched.suffix.length > 0));
      return { phase: state.phase, count: state.count + 1, suffix: matched.suffix, utf8, nonEmpty };
    },
    accepting: (state) => state.phase === "impression" && state.nonEmpty && utf8AtBoundary(state.utf8),
    // a body's byte count matters only below its hard limit
    key: (state) => {
      const limit = state.phase === "findings" ? findingsBudget : impressionBudget;
      const count = state.phase === "opening" ? state.count : state.count < limit + hardMargin ? state.count : -1;
      // a partial character's bits decide whether it will end as a break; a finished one only whether it is one
      const utf8 = utf8AtBoundary(state.utf8) ? (isBreak(state.utf8) ? "b" : "w") : state.utf8;
      return `${state.phase}|${Number.isFinite(limit) || state.phase === "opening" ? count : 0}|${state.suffix}|${utf8}|${state.nonEmpty ? 1 : 0}`;
    },
  };
}
