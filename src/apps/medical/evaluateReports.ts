// Scoring a report model on held-out synthetic cases: finding precision/recall/F1 (the
// labeller's reading of the generated text against the true findings), term validity (the
// share of medical-looking words that are exact lexicon entries), BLEU-4 and ROUGE-L against
// the reference report, and the latency of one report at a time.

import { type LabelledFinding, labelReport, reportText, type SynthCase } from "../../data/index.js";
import { loadMedicalWordList, termValidity } from "../../generate/index.js";
import { type ClinicalContext, contextFromSynthEhr, emptyContext, type ReportLanguage } from "../../models/index.js";
import { corpusBleu, metricTokens, rougeL } from "../../train/index.js";
import { findingScores } from "./findingMetrics.js";
import type { ReportGenerator } from "./reportGenerator.js";

export interface ReportEval {
  findingF1: number;
  findingPrecision: number;
  findingRecall: number;
  /** Valid medical terms / medical terms found in the generated reports. */
  termValidity: number;
  bleu4: number;
  rougeL: number;
  latencyMs: { p50: number; p95: number };
  n: number;
}

const truthOf = (c: SynthCase): LabelledFinding[] => c.findings.map(({ region: _, ...f }) => f);

/**
 * The record each case is reported with: its own, another case's (the records rotated by
 * one, so every image meets a record drawn for other findings), or none. A model whose
 * findings come from the image scores the same with all three.
 */
export type EvalRecords = "own" | "shuffled" | "none";

export function evalContext(cases: readonly SynthCase[], i: number, records: EvalRecords): ClinicalContext {
  if (records === "none") return emptyContext();
  return contextFromSynthEhr(cases[records === "own" ? i : (i + 1) % cases.length].ehr);
}

export async function evaluateReports(
  generator: ReportGenerator,
  cases: readonly SynthCase[],
  options: {
    lang: ReportLanguage;
    constrained: boolean;
    /** Default "own"; or the context of each case (e.g. its record sent as a FHIR Bundle). */
    records?: EvalRecords | ((i: number) => ClinicalContext);
    onCase?: (done: number) => void;
  },
): Promise<ReportEval & { texts: string[] }> {
  const records = options.records ?? "own";
  const contextOf = typeof records === "function" ? records : (i: number) => evalContext(cases, i, records);
  const medicalWords = loadMedicalWordList() ?? new Set<string>();
  const latencies: number[] = [];
  const texts: string[] = [];
  for (const [i, c] of cases.entries()) {
    const t0 = performance.now();
    texts.push(
      await generator.write({ slice: c, context: contextOf(i), lang: options.lang }, { constrained: options.constrained }),
    );
    latencies.push(performance.now() - t0);
    options.onCase?.(i + 1);
  }
  const scores = findingScores(cases.map((c, i) => ({ predicted: labelReport(texts[i], options.lang), truth: truthOf(c) })));
  // A medical-looking word (in Debian's medical word list, or near a lexicon term) is valid
  // when it is a lexicon term or one of the reference reports' own words (e.g. the header
  // "impression", which the medical word list also holds).
  const general = new Set(generator.generalWords.map((w) => w.toLowerCase()));
  let terms = 0;
  let valid = 0;
  for (const text of texts) {
    for (const hit of termValidity(text, generator.lexicon, medicalWords).terms) {
      terms++;
      if (hit.valid || general.has(hit.text.toLowerCase())) valid++;
    }
  }
  const references = cases.map((c) => metricTokens(reportText(c.report[options.lang], options.lang)));
  const hypotheses = texts.map(metricTokens);
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return {
    findingF1: scores.f1,
    findingPrecision: scores.precision,
    findingRecall: scores.recall,
    termValidity: terms === 0 ? 1 : valid / terms,
    bleu4: corpusBleu(hypotheses, references).bleu,
    rougeL: hypotheses.reduce((a, h, i) => a + rougeL(h, references[i]), 0) / Math.max(1, cases.length),
    latencyMs: { p50: at(0.5), p95: at(0.95) },
    n: cases.length,
    texts,
  };
}
