// Real labelled sentences the project did not write, from the UCI "Sentiment Labelled
// Sentences" set (Kotzias et al. 2015, CC BY 4.0: 1000 sentences each from Amazon, IMDB and
// Yelp reviews, 0 negative / 1 positive) as two dev dependencies ship them:
//   - the Amazon sentences in wink-sentiment's test data: the test set, never trained or tuned on;
//   - the IMDB and Yelp sentences in the `sentiment` package's test fixtures: training data
//     for polarity, with every fifth sentence of each held out as the dev set the recipe is
//     chosen on. Sentences that also occur in the Amazon test set are dropped from both.
// Node only (reads files from node_modules).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export interface PolaritySentence {
  text: string;
  positive: boolean;
}

export type ReviewCorpus = "imdb" | "yelp";
export const REVIEW_CORPORA: readonly ReviewCorpus[] = ["imdb", "yelp"];

export interface ReviewSentence extends PolaritySentence {
  corpus: ReviewCorpus;
}

export class EvaluationDataError extends Error {
  override name = "EvaluationDataError";
}

const require = createRequire(import.meta.url);
/** Folder of an installed package (dev dependencies: evaluation and training only). */
export const packageDir = (name: string): string => dirname(require.resolve(`${name}/package.json`));

function readText(path: string, pkg: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new EvaluationDataError(`cannot read ${path} (is the dev dependency ${pkg} installed?): ${(err as Error).message}`);
  }
}

/** The wink-sentiment Amazon sentences: "sentence<TAB>0|1" per line. */
export function readAmazonSentences(
  path = join(packageDir("wink-sentiment"), "test/data/amazon_cells_labelled.txt"),
): PolaritySentence[] {
  return readText(path, "wink-sentiment")
    .split(/\r?\n/)
    .filter((line) => line.trim().length > 0)
    .map((line, i) => {
      const tab = line.lastIndexOf("\t");
      const label = line.slice(tab + 1).trim();
      if (tab < 0 || (label !== "0" && label !== "1"))
        throw new EvaluationDataError(`${path}:${i + 1}: expected "sentence<TAB>0|1", got "${line.slice(0, 60)}"`);
      return { text: line.slice(0, tab), positive: label === "1" };
    });
}

/** The `sentiment` package's IMDB or Yelp fixture: a JSON array of { text, class: 0 | 1 }; blank texts skipped. */
export function readReviewSentences(
  corpus: ReviewCorpus,
  path = join(packageDir("sentiment"), `test/fixtures/${corpus}.json`),
): ReviewSentence[] {
  let rows: unknown;
  try {
    rows = JSON.parse(readText(path, "sentiment"));
  } catch (err) {
    if (err instanceof EvaluationDataError) throw err;
    throw new EvaluationDataError(`${path}: not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(rows)) throw new EvaluationDataError(`${path}: expected a JSON array of { text, class }`);
  const out: ReviewSentence[] = [];
  rows.forEach((row: { text?: unknown; class?: unknown }, i) => {
    if (typeof row?.text === "string" && row.text.trim() === "") return; // the files end with { text: "", class: null }
    if (typeof row?.text !== "string" || (row.class !== 0 && row.class !== 1))
      throw new EvaluationDataError(
        `${path}[${i}]: expected { text: string, class: 0 | 1 }, got ${JSON.stringify(row).slice(0, 80)}`,
      );
    out.push({ text: row.text.trim(), positive: row.class === 1, corpus });
  });
  return out;
}

const key = (text: string) => text.trim().toLowerCase().replace(/\s+/g, " ");

/**
 * IMDB + Yelp split into training sentences and the dev set (every fifth sentence of each
 * corpus, in file order), without duplicates and without any sentence of the Amazon test set.
 */
export function reviewSplit(): { train: ReviewSentence[]; dev: ReviewSentence[] } {
  const seen = new Set(readAmazonSentences().map((s) => key(s.text)));
  const train: ReviewSentence[] = [];
  const dev: ReviewSentence[] = [];
  for (const corpus of REVIEW_CORPORA)
    readReviewSentences(corpus).forEach((s, i) => {
      if (seen.has(key(s.text))) return;
      seen.add(key(s.text));
      (i % 5 === 4 ? dev : train).push(s);
    });
  return { train, dev };
}
