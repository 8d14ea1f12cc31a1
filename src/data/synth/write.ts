// Writes a case to disk: <id>.dcm, <id>.png and <id>.json (findings, EHR, reports; no pixels).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeCtDicom } from "./dicom.js";
import { encodePng } from "./png.js";
import { reportText } from "./report.js";
import type { SynthCase } from "./types.js";

/** Everything about a case but its pixels, as written to <id>.json. */
export function caseRecord(c: SynthCase): Omit<SynthCase, "hu"> & { reportText: { en: string; zh: string } } {
  const { hu: _pixels, ...rest } = c;
  return { ...rest, reportText: { en: reportText(c.report.en, "en"), zh: reportText(c.report.zh, "zh") } };
}

export interface WrittenCase {
  id: string;
  dicom: string;
  png: string;
  json: string;
}

export function writeSynthCase(dir: string, c: SynthCase): WrittenCase {
  mkdirSync(dir, { recursive: true });
  const files = { dicom: `${c.id}.dcm`, png: `${c.id}.png`, json: `${c.id}.json` };
  writeFileSync(join(dir, files.dicom), encodeCtDicom(c));
  writeFileSync(join(dir, files.png), encodePng(c));
  writeFileSync(join(dir, files.json), `${JSON.stringify(caseRecord(c), null, 2)}\n`);
  return { id: c.id, ...files };
}
