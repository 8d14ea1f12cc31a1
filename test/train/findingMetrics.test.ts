// Finding F1: exact on reference reports, and each kind of error costs what it should.

import assert from "node:assert/strict";
import { test } from "node:test";
import { findingDistance, findingScores, matchFindings } from "../../src/apps/medical/findingMetrics.js";
import { type LabelledFinding, labelReport, reportText, synthChestSet } from "../../src/data/synth/index.js";

const nodule = (sizeMm: number, lobe: LabelledFinding["lobe"] = "RUL"): LabelledFinding => ({
  type: "nodule",
  side: "right",
  lobe,
  sizeMm,
});
const effusion: LabelledFinding = { type: "effusion", side: "left", severity: "small" };

test("reference reports score F1 = 1 in both languages", () => {
  const cases = synthChestSet(21, 200);
  for (const lang of ["en", "zh"] as const) {
    const s = findingScores(
      cases.map((c) => ({
        predicted: labelReport(reportText(c.report[lang], lang), lang),
        truth: c.findings.map(({ region: _, ...f }) => f),
      })),
    );
    assert.equal(s.f1, 1, lang);
    assert.ok(s.truePositives > 200);
  }
});

test("matching rules: attributes exact, sizes within max(3 mm, 20%), one-to-one", () => {
  assert.equal(findingDistance(nodule(14), nodule(16)), 2);
  assert.equal(findingDistance(nodule(14), nodule(18)), undefined);
  assert.equal(findingDistance(nodule(50), nodule(59)), 9, "20% of 50 mm = 10 mm");
  assert.equal(findingDistance(nodule(14, "RML"), nodule(14)), undefined, "wrong lobe");
  assert.equal(findingDistance({ ...effusion, side: "right" }, effusion), undefined, "wrong side");
  assert.equal(findingDistance({ ...effusion, severity: "large" }, effusion), undefined, "wrong severity");
  assert.deepEqual(matchFindings([nodule(14), nodule(14)], [nodule(14)]), {
    truePositives: 1,
    falsePositives: 1,
    falseNegatives: 0,
  });
  assert.deepEqual(matchFindings([], [nodule(14), effusion]), { truePositives: 0, falsePositives: 0, falseNegatives: 2 });
  // Closest sizes pair up first: predicted 12 takes true 12 (not 14), and 19 is too far from 14.
  assert.deepEqual(matchFindings([nodule(12), nodule(19)], [nodule(14), nodule(12)]).truePositives, 1);
  const s = findingScores([
    { predicted: [nodule(14), effusion], truth: [nodule(15)] },
    { predicted: [], truth: [effusion] },
  ]);
  assert.deepEqual([s.truePositives, s.falsePositives, s.falseNegatives], [1, 1, 1]);
  assert.equal(s.precision, 0.5);
  assert.equal(s.recall, 0.5);
  assert.equal(s.f1, 0.5);
});
