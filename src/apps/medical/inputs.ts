// From the files a user has to what the report model reads: one axial slice in Hounsfield
// units and a clinical context. DICOM CT slices are read as they are; NIfTI volumes give their
// middle slice (values taken as HU); PNG/JPEG grey levels are mapped back through the lung
// window the synthetic PNGs are written with. Each conversion that guesses says so in `notes`.
// EHRs are FHIR R4 JSON (a Bundle or single resources) or this project's JSON (a case file
// from `aigc data synth-ct`, or its `ehr` object alone).

import { z } from "zod";
import { MedicalFileError, type MedicalImage, readMedicalImage, recordFromFhir, recordFromSynthEhr } from "../../data/index.js";
import { type ClinicalContext, contextFromRecord } from "../../models/index.js";
import { issueLines, safeParseInput } from "../../runtime/index.js";
import type { HuSlice } from "./reportGenerator.js";

export interface SliceInput {
  slice: HuSlice;
  /** What was assumed to read the file (empty for a CT DICOM slice). */
  notes: string[];
  /** PNG/JPEG: the share of coloured pixels (a CT render is grey). */
  colourShare?: number;
}

/** The lung window of the synthetic PNGs (center -600, width 1500), inverted. */
const lungWindow = { center: -600, width: 1500 };

export function sliceFromImage(image: MedicalImage): SliceInput {
  const notes: string[] = [];
  const middle = Math.floor(image.planes / 2);
  let values: Float32Array;
  if (image.format === "dicom") {
    const modality = image.dicom?.modality ?? "";
    if (modality !== "" && modality !== "CT") {
      throw new MedicalFileError(image.file, "unsupported", `modality ${modality}: the report model reads CT slices only`);
    }
    if (image.planes > 1) notes.push(`multi-frame DICOM: frame ${middle} of ${image.planes} read`);
    values = image.plane(middle);
  } else if (image.format === "nifti") {
    notes.push(`NIfTI: slice ${middle} of ${image.planes}, voxel values read as Hounsfield units`);
    values = image.plane(middle);
  } else {
    notes.push(`${image.format.toUpperCase()}: grey levels mapped back through the lung window (center -600, width 1500)`);
    const low = lungWindow.center - lungWindow.width / 2;
    values = image.plane(0).map((g) => low + (g / 255) * lungWindow.width);
  }
  return { slice: { hu: values, width: image.width, height: image.height }, notes, colourShare: image.raster?.colourShare };
}

export function readSlice(path: string): SliceInput {
  return sliceFromImage(readMedicalImage(path));
}

const synthEhrSchema = z.object({
  age: z.number().int().min(0).max(130),
  sex: z.enum(["M", "F"]),
  smoker: z.object({ status: z.enum(["never", "former", "current"]), packYears: z.number().min(0) }),
  symptoms: z.array(z.string()),
  vitals: z.object({
    heartRate: z.number(),
    respRate: z.number(),
    spo2: z.number(),
    tempC: z.number(),
    systolic: z.number(),
    diastolic: z.number(),
  }),
  labs: z.object({
    wbc: z.number(),
    crp: z.number(),
    hemoglobin: z.number(),
    platelets: z.number(),
    ntProBnp: z.number(),
    ldh: z.number(),
  }),
  history: z.array(z.string()),
});

/** The prompt's context and what was left out of it (FHIR codes the model does not read). */
export interface ContextInput {
  context: ClinicalContext;
  notes: string[];
}

/**
 * A clinical context from FHIR R4 JSON or this project's EHR JSON, both through the same
 * structured record; MedicalFileError says what is wrong.
 */
export function contextFromJson(json: unknown, file: string): ContextInput {
  if (typeof json === "object" && json !== null && "resourceType" in json) {
    const record = recordFromFhir(json, file);
    return { context: contextFromRecord(record), notes: record.notes };
  }
  const candidate = typeof json === "object" && json !== null && "ehr" in json ? (json as { ehr: unknown }).ehr : json;
  const parsed = safeParseInput(synthEhrSchema, candidate);
  if (!parsed.success) {
    throw new MedicalFileError(
      file,
      "invalid",
      `not a FHIR R4 resource (no resourceType) and not an AIGC Studio EHR: ${issueLines(parsed.error, candidate, { root: "the record" })}`,
    );
  }
  // Names and IDs are not needed: the report model never sees them.
  return { context: contextFromRecord(recordFromSynthEhr(parsed.data)), notes: [] };
}
