// The report model's prompt: the image slots, then the patient's record as one compact line
// (no names, IDs or dates: only age, sex, smoking, symptoms, vitals, labs, history), then the
// language tag.

import { type BpeTokenizer, type ClinicalRecord, recordFromSynthEhr, type SynthEhr } from "../data/index.js";
import { ReportModelError } from "./reportModel.js";

export const reportLanguages = ["en", "zh"] as const;
export type ReportLanguage = (typeof reportLanguages)[number];

/** What the report model reads of a patient's record: no names, IDs or dates. */
export interface ClinicalContext {
  age?: number;
  sex?: "male" | "female" | "other" | "unknown";
  smoking?: string;
  symptoms: string[];
  /** name -> "value unit" */
  vitals: Record<string, string>;
  labs: Record<string, string>;
  history: string[];
}

/** The context of a patient with no record: the prompt then carries the image alone. */
export const emptyContext = (): ClinicalContext => ({ symptoms: [], vitals: {}, labs: {}, history: [] });

/**
 * The prompt's context from a structured record: the project's JSON EHR and a FHIR Bundle
 * both become a ClinicalRecord first (data/medical/fhirRecord.ts), so the same patient
 * reads the same either way.
 */
export function contextFromRecord(record: ClinicalRecord): ClinicalContext {
  const fields = (pairs: [string, number | undefined, string?][]): Record<string, string> =>
    Object.fromEntries(pairs.filter(([, v]) => v !== undefined).map(([k, v, unit = ""]) => [k, `${v}${unit}`]));
  const v = record.vitals;
  const l = record.labs;
  const smoking = record.smoking;
  return {
    age: record.age,
    sex: record.sex,
    smoking:
      smoking === undefined
        ? undefined
        : smoking.status === "never"
          ? "never smoker"
          : `${smoking.status} smoker${smoking.packYears === undefined ? "" : ` ${smoking.packYears} pack-years`}`,
    symptoms: record.symptoms,
    vitals: {
      ...fields([
        ["HR", v.heartRate],
        ["RR", v.respRate],
        ["SpO2", v.spo2, "%"],
        ["T", v.tempC],
      ]),
      ...(v.systolic !== undefined && v.diastolic !== undefined ? { BP: `${v.systolic}/${v.diastolic}` } : {}),
    },
    labs: fields([
      ["WBC", l.wbc],
      ["CRP", l.crp],
      ["Hb", l.hemoglobin],
      ["PLT", l.platelets],
      ["NTproBNP", l.ntProBnp],
      ["LDH", l.ldh],
    ]),
    history: record.history,
  };
}

export const contextFromSynthEhr = (ehr: SynthEhr): ClinicalContext => contextFromRecord(recordFromSynthEhr(ehr));

/** The EHR as one compact line, always in the same order (short: every token costs decode time). */
export function contextText(context: ClinicalContext): string {
  const parts: string[] = [];
  if (context.age !== undefined || context.sex) parts.push(`${context.age ?? "?"} ${context.sex ?? "unknown"}`);
  if (context.smoking) parts.push(context.smoking);
  if (context.symptoms.length) parts.push(context.symptoms.join(", "));
  const kv = (r: Record<string, string>) =>
    Object.entries(r)
      .map(([k, v]) => `${k} ${v}`)
      .join(" ");
  if (Object.keys(context.vitals).length) parts.push(kv(context.vitals));
  if (Object.keys(context.labs).length) parts.push(kv(context.labs));
  if (context.history.length) parts.push(context.history.join(", "));
  return `EHR: ${parts.join("; ")}`;
}

/** Token ids of the prompt: the image slots, then the EHR and the language tag. */
export function reportPrompt(tokenizer: BpeTokenizer, slots: number, context: ClinicalContext, lang: ReportLanguage): number[] {
  if (tokenizer.imageTokenIds.length < slots)
    throw new ReportModelError(`the tokenizer reserves ${tokenizer.imageTokenIds.length} image tokens; the model needs ${slots}`);
  const text = `${contextText(context)}\nReport (${lang}):\n`;
  return [...tokenizer.imageTokenIds.slice(0, slots), ...tokenizer.encode(text, { allowSpecial: false })];
}
