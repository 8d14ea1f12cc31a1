// Finding-level accuracy of a report: the findings a deterministic labeller reads from the
// generated text against the case's true findings.
//
// A predicted finding matches a true one when type, side, lobe, severity and air
// bronchograms are equal (each where the type has it) and, for nodules and masses, the
// size is within max(3 mm, 20%) of the truth (radiologists' measurements of one nodule
// vary by about that much). Matching is one-to-one (greedy, closest size first); a report
// that repeats a finding gets the repeat counted as a false positive.

import type { LabelledFinding } from "../../data/index.js";

export interface FindingCounts {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
}

export interface FindingScores extends FindingCounts {
  precision: number;
  recall: number;
  f1: number;
}

const sizeTolerance = (mm: number) => Math.max(3, 0.2 * mm);

/** Whether `predicted` describes `truth` (sizes within tolerance); returns the size error, or undefined for no match. */
export function findingDistance(predicted: LabelledFinding, truth: LabelledFinding): number | undefined {
  if (
    predicted.type !== truth.type ||
    predicted.side !== truth.side ||
    predicted.lobe !== truth.lobe ||
    predicted.severity !== truth.severity
  )
    return undefined;
  if (Boolean(predicted.airBronchograms) !== Boolean(truth.airBronchograms)) return undefined;
  if (truth.sizeMm === undefined && predicted.sizeMm === undefined) return 0;
  if (truth.sizeMm === undefined || predicted.sizeMm === undefined) return undefined;
  const error = Math.abs(predicted.sizeMm - truth.sizeMm);
  return error <= sizeTolerance(truth.sizeMm) ? error : undefined;
}

/** Which predicted findings match a true one under one-to-one matching (greedy, closest size first). */
export function matchedPredictions(predicted: readonly LabelledFinding[], truth: readonly LabelledFinding[]): boolean[] {
  const pairs: { p: number; t: number; d: number }[] = [];
  predicted.forEach((p, i) => {
    truth.forEach((t, j) => {
      const d = findingDistance(p, t);
      if (d !== undefined) pairs.push({ p: i, t: j, d });
    });
  });
  pairs.sort((a, b) => a.d - b.d || a.p - b.p || a.t - b.t);
  const usedP = new Set<number>();
  const usedT = new Set<number>();
  for (const { p, t } of pairs) {
    if (usedP.has(p) || usedT.has(t)) continue;
    usedP.add(p);
    usedT.add(t);
  }
  return predicted.map((_, i) => usedP.has(i));
}

/** One case: true positives, false positives, false negatives under one-to-one matching. */
export function matchFindings(predicted: readonly LabelledFinding[], truth: readonly LabelledFinding[]): FindingCounts {
  const truePositives = matchedPredictions(predicted, truth).filter(Boolean).length;
  return { truePositives, falsePositives: predicted.length - truePositives, falseNegatives: truth.length - truePositives };
}

/** Micro-averaged precision, recall and F1 over cases. A case with no findings either way is skipped by the counts. */
export function findingScores(
  cases: readonly { predicted: readonly LabelledFinding[]; truth: readonly LabelledFinding[] }[],
): FindingScores {
  const c = cases.reduce(
    (acc, x) => {
      const m = matchFindings(x.predicted, x.truth);
      return {
        truePositives: acc.truePositives + m.truePositives,
        falsePositives: acc.falsePositives + m.falsePositives,
        falseNegatives: acc.falseNegatives + m.falseNegatives,
      };
    },
    { truePositives: 0, falsePositives: 0, falseNegatives: 0 },
  );
  const precision = c.truePositives + c.falsePositives === 0 ? 1 : c.truePositives / (c.truePositives + c.falsePositives);
  const recall = c.truePositives + c.falseNegatives === 0 ? 1 : c.truePositives / (c.truePositives + c.falseNegatives);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { ...c, precision, recall, f1 };
}
