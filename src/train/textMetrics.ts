// Text-generation metrics over tokenised text: corpus BLEU-4 (Papineni et al. 2002: clipped
// n-gram precisions, geometric mean, brevity penalty over the whole corpus) and ROUGE-L
// (Lin 2004: longest common subsequence F-measure, β = 1, averaged over sentences).
// `metricTokens` splits English on words and punctuation and Chinese into characters.

const word = String.raw`(?:(?!\p{Script=Han})[\p{L}\p{N}])+`;
const tokenPattern = new RegExp(String.raw`\p{Script=Han}|${word}(?:[.']${word})*|[^\s\p{L}\p{N}]`, "gu");

/** Lower-cased words, numbers and punctuation marks; each CJK character is its own token. */
export function metricTokens(text: string): string[] {
  return text.toLowerCase().match(tokenPattern) ?? [];
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join("\u0000");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export interface BleuResult {
  bleu: number;
  /** Clipped precision of 1..4-grams over the corpus. */
  precisions: number[];
  brevityPenalty: number;
  hypothesisLength: number;
  referenceLength: number;
}

/** Corpus BLEU-4 of hypotheses against one reference each (tokens), no smoothing. */
export function corpusBleu(hypotheses: readonly (readonly string[])[], references: readonly (readonly string[])[]): BleuResult {
  if (hypotheses.length !== references.length) throw new Error("corpusBleu: one reference per hypothesis");
  const matched = [0, 0, 0, 0];
  const total = [0, 0, 0, 0];
  let hypLen = 0;
  let refLen = 0;
  hypotheses.forEach((hyp, i) => {
    const ref = references[i];
    hypLen += hyp.length;
    refLen += ref.length;
    for (let n = 1; n <= 4; n++) {
      const refCounts = ngramCounts(ref, n);
      for (const [gram, count] of ngramCounts(hyp, n)) matched[n - 1] += Math.min(count, refCounts.get(gram) ?? 0);
      total[n - 1] += Math.max(0, hyp.length - n + 1);
    }
  });
  const precisions = matched.map((m, i) => (total[i] === 0 ? 0 : m / total[i]));
  const brevityPenalty = hypLen === 0 ? 0 : hypLen >= refLen ? 1 : Math.exp(1 - refLen / hypLen);
  const bleu = precisions.some((p) => p === 0)
    ? 0
    : brevityPenalty * Math.exp(precisions.reduce((a, p) => a + Math.log(p), 0) / 4);
  return { bleu, precisions, brevityPenalty, hypothesisLength: hypLen, referenceLength: refLen };
}

/** Length of the longest common subsequence. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let previous = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) row[j] = a[i - 1] === b[j - 1] ? previous[j - 1] + 1 : Math.max(previous[j], row[j - 1]);
    previous = row;
  }
  return previous[b.length];
}

/** ROUGE-L F1 of one hypothesis against its reference (tokens). */
export function rougeL(hypothesis: readonly string[], reference: readonly string[]): number {
  const lcs = lcsLength(hypothesis, reference);
  if (lcs === 0) return 0;
  const precision = lcs / hypothesis.length;
  const recall = lcs / reference.length;
  return (2 * precision * recall) / (precision + recall);
}
