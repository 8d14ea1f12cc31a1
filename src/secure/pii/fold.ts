// Folding before detection. A model reads "５３６-２２-８４９１", "536\u200B-22-8491" or
// "536\u00A022\u00A08491" as the SSN it is, so the scanners must too: they run on a folded
// copy of the text, and every folded character remembers which original characters it came
// from, so findings still slice back to the caller's text (and redaction still works on it).
//
// What folding does, per character cluster (a base character and the combining marks on it):
// - invisible characters are removed: format characters (Unicode Cf: zero-width space,
//   joiners, U+2060 word joiner, U+FEFF, soft hyphen U+00AD, bidi controls, tags),
//   control characters other than line breaks, and the Hangul fillers;
// - the cluster is normalised with NFKC (fullwidth digits and letters, ＠, ：, ligatures,
//   circled and superscript digits become their plain forms);
// - horizontal whitespace of every kind (tab, NBSP, narrow NBSP, ideographic space, en/em
//   spaces, …) becomes " ", and U+0085, U+2028, U+2029 become "\n";
// - dashes of every kind (Unicode Pd, minus sign) become "-";
// - decimal digits of any script (Arabic-Indic, Devanagari, …) become ASCII digits;
// - combining marks left over after NFKC are dropped (a digit with an accent on it is still
//   the digit).

/** The folded text and, unless it is character-for-character the input, where each unit came from. */
export interface FoldedText {
  readonly text: string;
  /** `from[i]`..`to[i]` (end exclusive) are the input's UTF-16 units behind `text[i]`; absent: identity. */
  readonly from?: Int32Array;
  readonly to?: Int32Array;
}

const invisibleRe = /^[\p{Cf}\p{Cc}\u115F\u1160\u3164\uFFA0]$/u;
const lineBreakRe = /^[\n\r\u0085\u2028\u2029]$/u;
const spaceRe = /^[\s\u1680\u180E]$/u;
const dashRe = /^[\p{Pd}\u2212\u2796\uFE63\uFF0D]$/u;
const markRe = /^\p{M}$/u;
const decimalDigitRe = /^\p{Nd}$/u;
/** Everything outside this needs the full fold; inside it only tab, VT and FF change (to a space). */
const needsFoldRe = /[^\x20-\x7E\n\r\t\v\f]/;

/** The value (0–9) of a decimal digit: Unicode encodes each script's digits as 10 consecutive code points from 0. */
function digitValue(codePoint: number): number {
  let run = 0;
  while (run < 60 && decimalDigitRe.test(String.fromCodePoint(codePoint - run - 1))) run++;
  return run % 10;
}

/** Fold of one code point after NFKC ("" when it is dropped). */
function foldCodePoint(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x80) {
    if (cp === 0x0a || cp === 0x0d) return ch;
    if (cp === 0x09 || cp === 0x0b || cp === 0x0c) return " ";
    return cp < 0x20 || cp === 0x7f ? "" : ch;
  }
  if (lineBreakRe.test(ch)) return "\n";
  if (invisibleRe.test(ch) || markRe.test(ch)) return "";
  if (spaceRe.test(ch)) return " ";
  if (dashRe.test(ch)) return "-";
  if (decimalDigitRe.test(ch)) return String(digitValue(cp));
  return ch;
}

/** Cache of folded single code points (clusters without marks): text repeats its characters. */
const foldCache = new Map<string, string>();
const foldCacheLimit = 8192;

function foldCluster(cluster: string): string {
  const cached = foldCache.get(cluster);
  if (cached !== undefined) return cached;
  let out = "";
  for (const ch of cluster.normalize("NFKC")) out += foldCodePoint(ch);
  if (foldCache.size < foldCacheLimit && cluster.length <= 2) foldCache.set(cluster, out);
  return out;
}

/** Control characters that fold to a space or a line break instead of going. */
const keptControls = new Set(["\n", "\r", "\t", "\v", "\f", "\u0085"]);
const isInvisible = (ch: string): boolean => !keptControls.has(ch) && invisibleRe.test(ch);

/**
 * Runs of characters folding leaves as they are: printable ASCII, line breaks, Latin-1
 * letters, CJK ideographs and punctuation, Hangul syllables (NFKC-stable, no space, dash or
 * digit among them). Copied in one piece; only the characters between runs are folded one
 * cluster at a time.
 */
const stableRunRe = /[\x20-\x7E\n\r\u00C0-\u00FF\u3001-\u3003\u3008-\u3011\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7A3]+/y;

/** Offsets that grow as the folded text does (NFKC can expand a character to several). */
class OffsetBuffer {
  from: Int32Array;
  to: Int32Array;
  length = 0;
  constructor(capacity: number) {
    this.from = new Int32Array(capacity);
    this.to = new Int32Array(capacity);
  }
  push(from: number, to: number, count: number): void {
    if (this.length + count > this.from.length) {
      const capacity = Math.max(this.from.length * 2, this.length + count);
      const grow = (old: Int32Array) => {
        const next = new Int32Array(capacity);
        next.set(old.subarray(0, this.length));
        return next;
      };
      this.from = grow(this.from);
      this.to = grow(this.to);
    }
    for (let k = 0; k < count; k++) {
      this.from[this.length] = from;
      this.to[this.length] = to;
      this.length++;
    }
  }
  /** Each of `count` units at `start` maps to itself. */
  pushIdentity(start: number, count: number): void {
    this.push(0, 0, count);
    for (let k = 0; k < count; k++) {
      this.from[this.length - count + k] = start + k;
      this.to[this.length - count + k] = start + k + 1;
    }
  }
}

const isMarkOrInvisible = (text: string, i: number): boolean => {
  if (i >= text.length) return false;
  const next = String.fromCodePoint(text.codePointAt(i) ?? 0);
  return markRe.test(next) || isInvisible(next);
};

/**
 * Fold `text` for detection (see the header comment), keeping the way back to the input.
 * Linear in the length of the text.
 */
export function foldText(text: string): FoldedText {
  if (!needsFoldRe.test(text)) return { text: text.replace(/[\t\v\f]/g, " ") };
  const parts: string[] = [];
  const offsets = new OffsetBuffer(text.length + 16);
  let i = 0;
  while (i < text.length) {
    stableRunRe.lastIndex = i;
    if (stableRunRe.test(text)) {
      // The run's last character goes to the cluster path when marks or invisibles follow it.
      let end = stableRunRe.lastIndex;
      if (isMarkOrInvisible(text, end)) end--;
      if (end > i) {
        parts.push(text.slice(i, end));
        offsets.pushIdentity(i, end - i);
        i = end;
        continue;
      }
    }
    const start = i;
    const base = String.fromCodePoint(text.codePointAt(i) ?? 0);
    i += base.length;
    if (isInvisible(base)) continue;
    // The cluster: the base and the marks on it; invisible characters inside it go.
    let cluster = base;
    while (i < text.length) {
      const next = String.fromCodePoint(text.codePointAt(i) ?? 0);
      if (markRe.test(next)) cluster += next;
      else if (!isInvisible(next)) break;
      i += next.length;
    }
    const folded = foldCluster(cluster);
    offsets.push(start, i, folded.length);
    parts.push(folded);
  }
  return { text: parts.join(""), from: offsets.from.subarray(0, offsets.length), to: offsets.to.subarray(0, offsets.length) };
}

/** The folded text alone (what the scanners read). */
export function foldForDetection(text: string): string {
  return foldText(text).text;
}
