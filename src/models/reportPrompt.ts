// The report model's prompt: the image slots, then the patient's record as one compact line
// (no names, IDs or dates: only age, sex, smoking, symptoms, vitals, labs, history), then the
// language tag.

import type { BpeTokenizer, Ehr, SynthEhr } from "../data/index.js";
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

export function contextFromSynthEhr(ehr: SynthEhr): ClinicalContext {
  const v = ehr.vitals;
  const l = ehr.labs;
  return {
    age: ehr.age,
    sex: ehr.sex === "M" ? "male" : "female",
    smoking: ehr.smoker.status === "never" ? "never smoker" : `${ehr.smoker.status} smoker ${ehr.smoker.packYears} pack-years`,
    symptoms: ehr.symptoms,
    vitals: {
      HR: `${v.heartRate}`,
      RR: `${v.respRate}`,
      SpO2: `${v.spo2}%`,
      T: `${v.tempC}`,
      BP: `${v.systolic}/${v.diastolic}`,
    },
    labs: {
      WBC: `${l.wbc}`,
      CRP: `${l.crp}`,
      Hb: `${l.hemoglobin}`,
      PLT: `${l.platelets}`,
      NTproBNP: `${l.ntProBnp}`,
      LDH: `${l.ldh}`,
    },
    history: ehr.history,
  };
}

/** A FHIR-derived EHR: observations become vitals/labs by their display names, conditions the history. */
export function contextFromFhir(ehr: Ehr): ClinicalContext {
  const labs: Record<string, string> = {};
  for (const o of ehr.observations.slice(0, 12)) {
    if (o.value === null || typeof o.value === "object") continue;
    labs[o.display.slice(0, 40)] = `${o.value}${o.unit ? ` ${o.unit}` : ""}`;
  }
  return {
    age: ehr.age,
    sex: ehr.sex,
    symptoms: [],
    vitals: {},
    labs,
    history: ehr.conditions.slice(0, 8).map((c) => c.display.slice(0, 60)),
  };
}

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
