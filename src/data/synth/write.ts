// Writes a case to disk: <id>.dcm, <id>.png and <id>.json (findings, EHR, reports; no pixels).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeCtDicom } from "./dicom.js";
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
}

export function writeSynthCase(dir: string, synthCase: SynthCase): WrittenCase {
  mkdirSync(dir, { recursive: true });
  const files = { dicom: `${synthCase.id}.dcm`, png: `${synthCase.id}.png`, json: `${synthCase.id}.json` };
  writeFileSync(join(dir, files.dicom), encodeCtDicom(synthCase));
  writeFileSync(join(dir, files.png), encodePng(synthCase));
  writeFileSync(join(dir, files.json), `${JSON.stringify(caseRecord(synthCase), null, 2)}\n`);
  return { id: synthCase.id, ...files };
}
