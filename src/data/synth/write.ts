// Writes a case to disk: <id>.dcm, <id>.png, <id>.json (findings, EHR, reports; no pixels) and
// <id>.fhir.json (the same EHR as a FHIR R4 Bundle, the way hospital systems send one).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../../runtime/index.js";
import { encodeCtDicom } from "./dicom.js";
import { fhirBundleFromSynthEhr } from "./fhirBundle.js";
import { encodePng } from "./png.js";
import { reportText } from "./report.js";
import type { SynthCase } from "./types.js";

/** Everything about a case but its pixels, as written to <id>.json. */
export function caseRecord(synthCase: SynthCase): Omit<SynthCase, "hu"> & { reportText: { en: string; zh: string } } {
  const { hu: _pixels, ...rest } = synthCase;
  return { ...rest, reportText: { en: reportText(synthCase.report.en, "en"), zh: reportText(synthCase.report.zh, "zh") } };
}

export interface WrittenCase {
  id: string;
  dicom: string;
  png: string;
  json: string;
  fhir: string;
}

export function writeSynthCase(dir: string, synthCase: SynthCase): WrittenCase {
  mkdirSync(dir, { recursive: true });
  const files = {
    dicom: `${synthCase.id}.dcm`,
    png: `${synthCase.id}.png`,
    json: `${synthCase.id}.json`,
    fhir: `${synthCase.id}.fhir.json`,
  };
  writeFileSync(join(dir, files.dicom), encodeCtDicom(synthCase));
  writeFileSync(join(dir, files.png), encodePng(synthCase));
  writeFileSync(join(dir, files.json), `${JSON.stringify(caseRecord(synthCase), null, 2)}\n`);
  const bundle = fhirBundleFromSynthEhr(synthCase.ehr, Rng.forName(synthCase.seed, `fhir-bundle:${synthCase.index}`));
  writeFileSync(join(dir, files.fhir), `${JSON.stringify(bundle, null, 2)}\n`);
  return { id: synthCase.id, ...files };
}
