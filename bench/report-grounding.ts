// Is the report model's reading grounded in the image? On held-out synthetic cases:
//   - finding F1 with each case's own record, with another case's record (the records rotated
//     by one), and with none: findings that come from the image do not move;
//   - the same record as a FHIR R4 Bundle built the way hospital systems send them: the share
//     of cases whose findings are identical to the JSON record's;
//   - Chinese reports: English words and section headers counted on every case;
//   - the gate: the share of held-out chest slices accepted, and on ≥ 200 images that are no
//     chest CT slice (screenshots, photos, noise, brain MR, non-chest CT), how many were
//     refused and how many got findings silently (the target: none);
//   - finding confidence: expected calibration error over the written findings.
//
//   node --import tsx bench/report-grounding.ts [model dir] [--n 300] [--json]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  contextFromJson,
  evaluateReports,
  expectedCalibrationError,
  matchedPredictions,
  ReportGenerator,
  readSlice,
} from "../src/apps/index.js";
import { fhirBundleFromSynthEhr, labelReport, MedicalFileError, synthChestSet } from "../src/data/index.js";
import { emptyContext } from "../src/models/index.js";
import { Rng } from "../src/runtime/index.js";
import { buildNonChestCorpus } from "../test/medical/nonChestCorpus.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { n: { type: "string", default: "300" }, json: { type: "boolean", default: false } },
});
const dir = positionals[0] ?? "assets/report-model";
const n = Number(values.n);
const log = (line: string) => {
  if (!values.json) console.log(line);
};

const generator = await ReportGenerator.load(dir);
const cases = synthChestSet(31, n);
const f1 = (r: { findingF1: number }) => r.findingF1.toFixed(3);

const own = await evaluateReports(generator, cases, { lang: "en", constrained: true, records: "own" });
const shuffled = await evaluateReports(generator, cases, { lang: "en", constrained: true, records: "shuffled" });
const none = await evaluateReports(generator, cases, { lang: "en", constrained: true, records: "none" });
log(`finding F1 (n ${n}): own record ${f1(own)}, another case's ${f1(shuffled)}, none ${f1(none)}`);
log(`  cost of a shuffled record: ${(own.findingF1 - shuffled.findingF1).toFixed(3)} (target ≤ 0.02; own ≥ 0.948)`);

const bundles = cases.map((c, i) => fhirBundleFromSynthEhr(c.ehr, Rng.forName(7, `fhir-bundle:${i}`)));
const fhir = await evaluateReports(generator, cases, {
  lang: "en",
  constrained: true,
  records: (i) => contextFromJson(bundles[i], `bundle ${i}`).context,
});
const same = cases.filter(
  (_, i) => JSON.stringify(labelReport(own.texts[i], "en")) === JSON.stringify(labelReport(fhir.texts[i], "en")),
).length;
const sameContext = cases.filter(
  (c, i) =>
    JSON.stringify(contextFromJson(bundles[i], "b").context) === JSON.stringify(contextFromJson({ ehr: c.ehr }, "j").context),
).length;
log(
  `FHIR Bundle vs JSON record: identical findings on ${same}/${n} (${((100 * same) / n).toFixed(1)}%, target ≥ 95%); identical context on ${sameContext}/${n}; F1 ${f1(fhir)}`,
);

const zh = await evaluateReports(generator, cases, { lang: "zh", constrained: true, records: "own" });
const englishWords = (text: string) => (text.match(/[A-Za-z]{2,}/g) ?? []).filter((w) => w !== "mm" && w !== "CT");
const withEnglish = zh.texts.filter((t) => englishWords(t).length > 0).length;
const count = (t: string, s: string) => t.split(s).length - 1;
const badSections = zh.texts.filter((t) => count(t, "检查所见：") !== 1 || count(t, "诊断意见：") !== 1).length;
log(`zh (n ${n}): F1 ${f1(zh)}; reports with an English word ${withEnglish}; with a section missing or repeated ${badSections}`);

// The gate on held-out chest slices, and confidence calibration of the written findings.
let accepted = 0;
const points: { confidence: number; correct: boolean }[] = [];
for (const [i, c] of cases.entries()) {
  const { reading, verdict } = await generator.assess(c);
  if (verdict.accepted) accepted++;
  const found = generator.findings(own.texts[i], "en", reading);
  const correct = matchedPredictions(found, c.findings);
  for (const [k, f] of found.entries()) points.push({ confidence: f.confidence ?? 0, correct: correct[k] });
}
const ece = expectedCalibrationError(points);
const meanConfidence = points.reduce((a, p) => a + p.confidence, 0) / Math.max(1, points.length);
const accuracy = points.filter((p) => p.correct).length / Math.max(1, points.length);
log(`gate: ${accepted}/${n} held-out chest slices accepted (${((100 * accepted) / n).toFixed(1)}%, target ≥ 98%)`);
log(
  `confidence: ECE ${ece.toFixed(3)} over ${points.length} findings (mean confidence ${meanConfidence.toFixed(3)}, share right ${accuracy.toFixed(3)})`,
);

const corpusDir = mkdtempSync(join(tmpdir(), "aigc-nonchest-"));
const perKind: Record<string, { n: number; unreadable: number; refused: number; silent: number }> = {};
let silentFindings = 0;
try {
  const corpus = await buildNonChestCorpus(corpusDir);
  for (const item of corpus) {
    perKind[item.kind] ??= { n: 0, unreadable: 0, refused: 0, silent: 0 };
    const k = perKind[item.kind];
    k.n++;
    let input: ReturnType<typeof readSlice>;
    try {
      input = readSlice(item.path);
    } catch (e) {
      if (!(e instanceof MedicalFileError)) throw e;
      k.unreadable++; // refused by the reader (e.g. an MR DICOM): a clear error, no report
      continue;
    }
    const { reading, verdict } = await generator.assess(input.slice, input);
    if (!verdict.accepted) {
      k.refused++;
      continue;
    }
    const text = await generator.write({ slice: input.slice, context: emptyContext(), lang: "en" }, {}, reading);
    if (labelReport(text, "en").length > 0) {
      k.silent++;
      silentFindings++;
      log(`  silent findings on ${item.name} (${item.source})`);
    }
  }
} finally {
  rmSync(corpusDir, { recursive: true, force: true });
}
const total = Object.values(perKind).reduce((a, k) => a + k.n, 0);
log(`not chest CT: ${total} images; silent findings on ${silentFindings} (target 0)`);
for (const [kind, k] of Object.entries(perKind))
  log(
    `  ${kind.padEnd(14)} ${String(k.n).padStart(4)}: refused by the reader ${k.unreadable}, by the gate ${k.refused}, silent findings ${k.silent}`,
  );
await generator.close();

if (values.json)
  console.log(
    JSON.stringify({
      n,
      f1: { own: own.findingF1, shuffled: shuffled.findingF1, none: none.findingF1, fhir: fhir.findingF1, zh: zh.findingF1 },
      fhirIdenticalFindings: same / n,
      fhirIdenticalContext: sameContext / n,
      zh: { withEnglish, badSections },
      gate: { acceptedHeldOut: accepted / n, nonChest: total, silentFindings, perKind },
      confidence: { ece, findings: points.length, meanConfidence, accuracy },
    }),
  );
