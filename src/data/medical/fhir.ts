// EHR input as FHIR R4 JSON: Patient, Observation and Condition resources, alone or in a
// Bundle (nested Bundles too), reduced to one small typed Ehr record. Other resource types
// in a Bundle are skipped; a single resource of another type is refused. Besides a flat
// summary (code, display, value, unit, date), each observation and condition keeps every
// coding, the UCUM quantity and its statuses, which fhirRecord.ts needs to map codes and
// units into the structured record.

import { z } from "zod";
import { issueLines, safeParseInput } from "../../runtime/index.js";
import { type FileInput, loadInput, MedicalFileError } from "./errors.js";

const coding = z.object({ system: z.string().optional(), code: z.string().optional(), display: z.string().optional() });
const codeableConcept = z.object({ coding: z.array(coding).optional(), text: z.string().optional() });
const quantity = z.object({
  value: z.number().optional(),
  unit: z.string().optional(),
  system: z.string().optional(),
  code: z.string().optional(),
});
const period = z.object({ start: z.string().optional(), end: z.string().optional() });

const patientSchema = z.object({
  resourceType: z.literal("Patient"),
  id: z.string().optional(),
  gender: z.enum(["male", "female", "other", "unknown"]).optional(),
  birthDate: z
    .string()
    .regex(/^\d{4}(-\d{2}(-\d{2})?)?$/, "expected a date YYYY, YYYY-MM or YYYY-MM-DD")
    .optional(),
});

const observationValue = {
  valueQuantity: quantity.optional(),
  valueString: z.string().optional(),
  valueBoolean: z.boolean().optional(),
  valueInteger: z.number().int().optional(),
  valueCodeableConcept: codeableConcept.optional(),
};

const observationSchema = z.object({
  resourceType: z.literal("Observation"),
  id: z.string().optional(),
  status: z.string().optional(),
  code: codeableConcept,
  effectiveDateTime: z.string().optional(),
  effectivePeriod: period.optional(),
  issued: z.string().optional(),
  ...observationValue,
  component: z.array(z.object({ code: codeableConcept, ...observationValue })).optional(),
});

const conditionSchema = z.object({
  resourceType: z.literal("Condition"),
  id: z.string().optional(),
  code: codeableConcept.optional(),
  clinicalStatus: codeableConcept.optional(),
  verificationStatus: codeableConcept.optional(),
  onsetDateTime: z.string().optional(),
  recordedDate: z.string().optional(),
});

const anyResource = z.object({ resourceType: z.string() });

export interface EhrObservation {
  /** first coding's code (LOINC where the source has it), or the text */
  code: string;
  display: string;
  /** number for quantities and integers, string otherwise */
  value: number | string | boolean | null;
  unit: string | null;
  date: string | null;
}

export interface EhrCondition {
  code: string;
  display: string;
  /** clinicalStatus code: active, resolved, … */
  status: string | null;
  onset: string | null;
}

export interface EhrCoding {
  system: string | null;
  code: string | null;
  display: string | null;
}

export interface EhrQuantity {
  value: number | null;
  /** the human-readable unit as sent */
  unit: string | null;
  /** the code system of `code`, http://unitsofmeasure.org for UCUM */
  system: string | null;
  code: string | null;
}

/** An observation (or one component of one) with all its codings, its quantity and its status. */
export interface CodedObservation extends EhrObservation {
  codings: EhrCoding[];
  text: string | null;
  /** Observation.status (final, amended, entered-in-error, …); a component has its observation's */
  status: string | null;
  quantity: EhrQuantity | null;
  /** valueCodeableConcept's codings, [] when the value is not a concept */
  valueCodings: EhrCoding[];
  valueText: string | null;
}

export interface CodedCondition extends EhrCondition {
  codings: EhrCoding[];
  text: string | null;
  /** verificationStatus code: confirmed, provisional, refuted, entered-in-error, … */
  verificationStatus: string | null;
}

export interface Ehr {
  patientId?: string;
  /** whole years at `asOf` */
  age?: number;
  sex?: "male" | "female" | "other" | "unknown";
  birthDate?: string;
  observations: CodedObservation[];
  conditions: CodedCondition[];
}

function conceptCode(concept: z.infer<typeof codeableConcept> | undefined): { code: string; display: string } {
  const first = concept?.coding?.find((c) => c.code !== undefined) ?? concept?.coding?.[0];
  const code = first?.code ?? concept?.text ?? "unknown";
  const display = concept?.text ?? first?.display ?? code;
  return { code, display };
}

function codingsOf(concept: z.infer<typeof codeableConcept> | undefined): EhrCoding[] {
  return (concept?.coding ?? []).map((c) => ({ system: c.system ?? null, code: c.code ?? null, display: c.display ?? null }));
}

function statusCode(concept: z.infer<typeof codeableConcept> | undefined): string | null {
  return concept?.coding?.[0]?.code ?? concept?.text ?? null;
}

type ValueFields = {
  valueQuantity?: z.infer<typeof quantity>;
  valueString?: string;
  valueBoolean?: boolean;
  valueInteger?: number;
  valueCodeableConcept?: z.infer<typeof codeableConcept>;
};

function observationValueOf(fields: ValueFields): { value: EhrObservation["value"]; unit: string | null } {
  if (fields.valueQuantity !== undefined) {
    return { value: fields.valueQuantity.value ?? null, unit: fields.valueQuantity.unit ?? fields.valueQuantity.code ?? null };
  }
  if (fields.valueInteger !== undefined) return { value: fields.valueInteger, unit: null };
  if (fields.valueBoolean !== undefined) return { value: fields.valueBoolean, unit: null };
  if (fields.valueString !== undefined) return { value: fields.valueString, unit: null };
  if (fields.valueCodeableConcept !== undefined) return { value: conceptCode(fields.valueCodeableConcept).display, unit: null };
  return { value: null, unit: null };
}

function codedDetail(concept: z.infer<typeof codeableConcept>, fields: ValueFields, status: string | null) {
  const q = fields.valueQuantity;
  return {
    codings: codingsOf(concept),
    text: concept.text ?? null,
    status,
    quantity:
      q === undefined ? null : { value: q.value ?? null, unit: q.unit ?? null, system: q.system ?? null, code: q.code ?? null },
    valueCodings: codingsOf(fields.valueCodeableConcept),
    valueText: fields.valueCodeableConcept?.text ?? null,
  };
}

/** Whole years between a FHIR date (YYYY[-MM[-DD]]) and `asOf`. */
export function ageInYears(birthDate: string, asOf: Date): number {
  const [year, month = 1, day = 1] = birthDate.split("-").map(Number);
  let age = asOf.getUTCFullYear() - year;
  const beforeBirthday = asOf.getUTCMonth() + 1 < month || (asOf.getUTCMonth() + 1 === month && asOf.getUTCDate() < day);
  if (beforeBirthday) age--;
  return age;
}

/** A failed parse of a resource in one line: `entry: expected an array, got an object`. */
const issuesText = (error: z.ZodError, resource: unknown): string => issueLines(error, resource, { root: "" });

export interface FhirOptions {
  /** the date ages are computed at; default now */
  asOf?: Date;
}

/** Builds an Ehr from parsed FHIR R4 JSON (a Bundle or a single Patient/Observation/Condition). */
export function ehrFromFhir(json: unknown, file = "<fhir json>", options: FhirOptions = {}): Ehr {
  const ehr: Ehr = { observations: [], conditions: [] };
  const asOf = options.asOf ?? new Date();
  const visit = (resource: unknown, where: string, inBundle: boolean): void => {
    const head = safeParseInput(anyResource, resource);
    if (!head.success)
      throw new MedicalFileError(file, "invalid", `${where} is not a FHIR resource (${issuesText(head.error, resource)})`);
    const check = <T>(schema: z.ZodType<T>): T => {
      const parsed = safeParseInput(schema, resource);
      if (!parsed.success) {
        throw new MedicalFileError(
          file,
          "invalid",
          `${where} (${head.data.resourceType}) is not valid FHIR R4: ${issuesText(parsed.error, resource)}`,
        );
      }
      return parsed.data;
    };
    switch (head.data.resourceType) {
      case "Bundle": {
        const bundle = check(z.object({ entry: z.array(z.object({ resource: z.unknown().optional() })).optional() }));
        (bundle.entry ?? []).forEach((entry, i) => {
          if (entry.resource !== undefined) visit(entry.resource, `${where}.entry[${i}].resource`, true);
        });
        return;
      }
      case "Patient": {
        const patient = check(patientSchema);
        if (ehr.patientId !== undefined && patient.id !== undefined && patient.id !== ehr.patientId) return; // first patient wins
        if (patient.id !== undefined) ehr.patientId = patient.id;
        if (patient.gender !== undefined) ehr.sex = patient.gender;
        if (patient.birthDate !== undefined) {
          ehr.birthDate = patient.birthDate;
          ehr.age = ageInYears(patient.birthDate, asOf);
        }
        return;
      }
      case "Observation": {
        const obs = check(observationSchema);
        const date = obs.effectiveDateTime ?? obs.effectivePeriod?.start ?? obs.issued ?? null;
        const status = obs.status ?? null;
        const push = (concept: z.infer<typeof codeableConcept>, fields: ValueFields): void => {
          ehr.observations.push({
            ...conceptCode(concept),
            ...observationValueOf(fields),
            date,
            ...codedDetail(concept, fields, status),
          });
        };
        if (observationValueOf(obs).value !== null || obs.component === undefined) push(obs.code, obs);
        for (const component of obs.component ?? []) push(component.code, component);
        return;
      }
      case "Condition": {
        const condition = check(conditionSchema);
        ehr.conditions.push({
          ...conceptCode(condition.code),
          status: statusCode(condition.clinicalStatus),
          onset: condition.onsetDateTime ?? condition.recordedDate ?? null,
          codings: codingsOf(condition.code),
          text: condition.code?.text ?? null,
          verificationStatus: statusCode(condition.verificationStatus),
        });
        return;
      }
      default:
        if (inBundle) return;
        throw new MedicalFileError(
          file,
          "unsupported",
          `resourceType "${head.data.resourceType}" is not read; expected Bundle, Patient, Observation or Condition`,
        );
    }
  };
  visit(json, "resource", false);
  return ehr;
}

/** Reads FHIR R4 JSON from bytes or a path into an Ehr. */
export function readFhirEhr(input: FileInput, options: FhirOptions = {}, name = "<fhir bytes>"): Ehr {
  const { bytes, file } = loadInput(input, name);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new MedicalFileError(file, "corrupt", `not UTF-8 JSON (${message})`, { cause: err });
  }
  return ehrFromFhir(json, file, options);
}
