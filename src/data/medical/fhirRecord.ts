// One structured patient record for the report model, whichever form the EHR came in: the
// project's JSON EHR (SynthEhr) or FHIR R4 as hospital systems send it. FHIR is mapped by
// LOINC / SNOMED code (every coding is looked at, not only the first), units are converted
// to the JSON EHR's UCUM units with ucum-lhc, and free-text conditions are matched against a
// small synonym list. Whatever is read but cannot be mapped goes to `notes`, never into the
// record, so the model sees exactly the fields and vocabulary it was trained on.

import ucum from "@lhncbc/ucum-lhc";
import type { SynthEhr, SynthLabs, SynthVitals } from "../synth/types.js";
import { ageInYears, type CodedCondition, type CodedObservation, type Ehr, type EhrCoding, ehrFromFhir } from "./fhir.js";

export type SmokingStatusCode = "never" | "former" | "current";

export interface ClinicalRecord {
  age?: number;
  sex?: "male" | "female" | "other" | "unknown";
  smoking?: { status: SmokingStatusCode; packYears?: number };
  /** in the project's vocabulary, no duplicates, order of appearance */
  symptoms: string[];
  /** canonical units; integers except tempC (1 decimal) */
  vitals: Partial<SynthVitals>;
  /** canonical units; integers except wbc, crp, hemoglobin (1 decimal) */
  labs: Partial<SynthLabs>;
  history: string[];
  /** What was read but kept out of the record, one line each. */
  notes: string[];
}

const LOINC = "http://loinc.org";
const SNOMED = "http://snomed.info/sct";
const UCUM = "http://unitsofmeasure.org";

const systemNames = new Map([
  [LOINC, "LOINC"],
  [SNOMED, "SNOMED"],
  [UCUM, "UCUM"],
]);

const round = (value: number, decimals: number): number => {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
};

export function recordFromSynthEhr(
  ehr: Pick<SynthEhr, "age" | "sex" | "smoker" | "symptoms" | "vitals" | "labs" | "history">,
): ClinicalRecord {
  const { status, packYears } = ehr.smoker;
  return {
    age: ehr.age,
    sex: ehr.sex === "M" ? "male" : "female",
    smoking: status === "never" ? { status } : { status, packYears },
    symptoms: [...ehr.symptoms],
    vitals: { ...ehr.vitals },
    labs: { ...ehr.labs },
    history: [...ehr.history],
    notes: [],
  };
}

// ---- Observations ---------------------------------------------------------------------

interface FieldSpec {
  group: "vitals" | "labs";
  field: keyof SynthVitals | keyof SynthLabs;
  /** the JSON EHR's UCUM unit */
  unit: string;
  decimals: number;
  /** g/mol, for mass ↔ substance conversions */
  molecularWeight?: number;
}

const vital = (field: keyof SynthVitals, unit: string, decimals = 0): FieldSpec => ({ group: "vitals", field, unit, decimals });
const lab = (field: keyof SynthLabs, unit: string, decimals = 0): FieldSpec => ({ group: "labs", field, unit, decimals });

/** Haemoglobin in mmol/L is counted per Fe-haem monomer (a quarter of the tetramer). */
const HAEM_MONOMER_G_PER_MOL = 16114.5;
const hemoglobin: FieldSpec = { ...lab("hemoglobin", "g/dL", 1), molecularWeight: HAEM_MONOMER_G_PER_MOL };

/** LOINC code → record field. Oral temperature (8331-1) is a body temperature; other sites are not mapped. */
const loincFields = new Map<string, FieldSpec>([
  ["8867-4", vital("heartRate", "/min")],
  ["9279-1", vital("respRate", "/min")],
  ["59408-5", vital("spo2", "%")],
  ["2708-6", vital("spo2", "%")],
  ["8310-5", vital("tempC", "Cel", 1)],
  ["8331-1", vital("tempC", "Cel", 1)],
  ["8480-6", vital("systolic", "mm[Hg]")],
  ["8462-4", vital("diastolic", "mm[Hg]")],
  ["6690-2", lab("wbc", "10*9/L", 1)],
  ["1988-5", lab("crp", "mg/L", 1)],
  ["30522-7", lab("crp", "mg/L", 1)],
  ["718-7", hemoglobin],
  ["59260-0", hemoglobin],
  ["777-3", lab("platelets", "10*9/L")],
  ["33762-6", lab("ntProBnp", "pg/mL")],
  ["2532-0", lab("ldh", "U/L")],
  ["14804-9", lab("ldh", "U/L")],
]);

const SMOKING_STATUS_LOINC = "72166-2";
const BP_PANEL_LOINC = "85354-9";
const PACK_YEARS_LOINC = "8664-7";
const PACK_YEARS_SNOMED = "401201003";

/** SNOMED smoking-status findings → status; 266927001 (unknown if ever smoked) deliberately absent. */
const smokingCodes = new Map<string, SmokingStatusCode>([
  ["266919005", "never"],
  ["8517006", "former"],
  ["77176002", "current"],
  ["449868002", "current"],
  ["428041000124106", "current"],
  ["428071000124103", "current"],
  ["428061000124105", "current"],
  ["65568007", "current"],
]);

/**
 * Non-UCUM spellings hospitals put in Quantity.unit, and the UCUM code each means. Only
 * unambiguous ones: anything else must be valid UCUM or the value is left out.
 */
const unitAliases = new Map<string, string>([
  ["bpm", "/min"],
  ["beats/min", "/min"],
  ["breaths/min", "/min"],
  ["mmHg", "mm[Hg]"],
  ["°C", "Cel"],
  ["C", "Cel"],
  ["°F", "[degF]"],
  ["F", "[degF]"],
  ["x10^9/L", "10*9/L"],
  ["K/uL", "10*3/uL"],
]);

const ucumUtils = ucum.UcumLhcUtils.getInstance();

type Converted = { value: number } | { problem: string };

function convert(value: number, from: string, spec: FieldSpec): Converted {
  try {
    const result = ucumUtils.convertUnitTo(from, value, spec.unit, { molecularWeight: spec.molecularWeight ?? null });
    if (result.status === "succeeded" && typeof result.toVal === "number" && Number.isFinite(result.toVal)) {
      return { value: round(result.toVal, spec.decimals) };
    }
    const invalid = result.msg.some((m) => m.includes("not a valid UCUM code") || m.includes("Unable to find a unit"));
    return { problem: invalid ? `unit "${from}" is not UCUM` : `unit "${from}" does not convert to ${spec.unit}` };
  } catch (err) {
    // ucum-lhc is not written for hostile input; a throw there is just an unusable unit
    return { problem: `unit "${from}" could not be read (${err instanceof Error ? err.message : String(err)})` };
  }
}

/** The unit to convert from: the UCUM code when the quantity says it is one, else the human unit (via the aliases). */
function quantityUnit(q: NonNullable<CodedObservation["quantity"]>): string | null {
  if (q.system === UCUM && q.code) return q.code;
  const unit = q.unit?.trim() || q.code;
  if (!unit) return null;
  return unitAliases.get(unit) ?? unit;
}

function codesIn(codings: EhrCoding[], system: string): string[] {
  return codings.filter((c) => c.system === system && c.code !== null).map((c) => c.code as string);
}

function codingLabel(c: EhrCoding): string {
  const system = c.system === null ? "no system" : (systemNames.get(c.system) ?? c.system);
  return c.display === null ? `${system} ${c.code}` : `"${c.display}" (${system} ${c.code})`;
}

/** How notes name an observation: its LOINC code where it has one, e.g. `2339-0 "Glucose" (LOINC)`. */
function observationLabel(obs: CodedObservation): string {
  const coding = obs.codings.find((c) => c.system === LOINC && c.code !== null) ?? obs.codings.find((c) => c.code !== null);
  const display = obs.text ?? coding?.display ?? null;
  if (coding === undefined) return `"${display ?? obs.code}"`;
  const system = coding.system === null ? "no system" : (systemNames.get(coding.system) ?? coding.system);
  return `${coding.code}${display === null ? "" : ` "${display}"`} (${system})`;
}

const observationCode = (obs: CodedObservation): string => codesIn(obs.codings, LOINC)[0] ?? obs.code;

/** Milliseconds of an observation's date; undated ones lose to any dated one. */
const timeOf = (date: string | null): number => {
  const time = date === null ? Number.NaN : Date.parse(date);
  return Number.isNaN(time) ? Number.NEGATIVE_INFINITY : time;
};

/** Keeps the latest value per key; on equal dates the one read last. */
class Latest<T> {
  private readonly byKey = new Map<string, { time: number; value: T }>();
  offer(key: string, date: string | null, value: T): void {
    const time = timeOf(date);
    const held = this.byKey.get(key);
    if (held === undefined || time >= held.time) this.byKey.set(key, { time, value });
  }
  get(key: string): T | undefined {
    return this.byKey.get(key)?.value;
  }
  entries(): [string, T][] {
    return [...this.byKey].map(([key, held]) => [key, held.value]);
  }
}

const skippedObservationStatuses = new Set(["entered-in-error", "cancelled"]);

// ---- Conditions -----------------------------------------------------------------------

type Term = { kind: "symptom" | "history"; term: string };
const symptom = (term: string): Term => ({ kind: "symptom", term });
const history = (term: string): Term => ({ kind: "history", term });

/** SNOMED concept → vocabulary term. Only codes whose meaning is certain; the rest map by text. */
const snomedTerms = new Map<string, Term>([
  ["13645005", history("COPD")],
  ["38341003", history("hypertension")],
  ["59621000", history("hypertension")],
  ["84114007", history("heart failure")],
  ["42343007", history("heart failure")],
  ["55822004", history("hyperlipidaemia")],
  ["44054006", history("type 2 diabetes")],
  ["386661006", symptom("fever")],
  ["28743005", symptom("productive cough")],
  ["267036007", symptom("dyspnoea")],
  ["89362005", symptom("weight loss")],
  ["66857006", symptom("haemoptysis")],
  ["62744007", symptom("orthopnoea")],
  ["68154008", symptom("chronic cough")],
]);

const synonyms = (term: Term, texts: string[]): [string, Term][] => texts.map((text) => [text, term]);

/** Condition text or display (lower case, trimmed, SNOMED's "(finding)"/"(disorder)" tag dropped) → term. */
const textTerms = new Map<string, Term>([
  ...synonyms(history("COPD"), ["copd", "chronic obstructive pulmonary disease", "chronic obstructive lung disease"]),
  ...synonyms(history("hypertension"), [
    "hypertension",
    "essential hypertension",
    "high blood pressure",
    "hypertensive disorder",
  ]),
  ...synonyms(history("heart failure"), ["heart failure", "congestive heart failure", "chf"]),
  ...synonyms(history("hyperlipidaemia"), ["hyperlipidemia", "hyperlipidaemia", "high cholesterol"]),
  ...synonyms(history("type 2 diabetes"), ["type 2 diabetes", "type 2 diabetes mellitus", "diabetes mellitus type 2", "t2dm"]),
  ...synonyms(history("no significant past history"), [
    "no significant past history",
    "no significant past medical history",
    "no significant pmh",
  ]),
  ...synonyms(symptom("fever"), ["fever", "pyrexia"]),
  ...synonyms(symptom("productive cough"), ["productive cough", "cough with sputum"]),
  ...synonyms(symptom("dyspnoea"), ["dyspnea", "dyspnoea", "shortness of breath"]),
  ...synonyms(symptom("sudden pleuritic chest pain"), ["sudden pleuritic chest pain"]),
  ...synonyms(symptom("weight loss"), ["weight loss"]),
  ...synonyms(symptom("haemoptysis"), ["hemoptysis", "haemoptysis"]),
  ...synonyms(symptom("ankle swelling"), ["ankle swelling", "swollen ankles", "ankle oedema", "ankle edema"]),
  ...synonyms(symptom("orthopnoea"), ["orthopnea", "orthopnoea"]),
  ...synonyms(symptom("routine screening"), ["routine screening"]),
  ...synonyms(symptom("chronic cough"), ["chronic cough"]),
  ...synonyms(symptom("atypical chest pain"), ["atypical chest pain"]),
]);

const normalizedText = (text: string): string =>
  text
    .trim()
    .toLowerCase()
    .replace(/\s*\((finding|disorder|symptom)\)$/, "")
    .replace(/\s+/g, " ");

function conditionTerm(condition: CodedCondition): Term | undefined {
  for (const code of codesIn(condition.codings, SNOMED)) {
    const term = snomedTerms.get(code);
    if (term !== undefined) return term;
  }
  const texts = [condition.text, ...condition.codings.map((c) => c.display)].filter((t): t is string => t !== null);
  for (const text of texts) {
    const term = textTerms.get(normalizedText(text));
    if (term !== undefined) return term;
  }
  return undefined;
}

function conditionLabel(condition: CodedCondition): string {
  const coding = condition.codings.find((c) => c.system === SNOMED && c.code !== null) ?? condition.codings[0];
  const text = condition.text ?? coding?.display ?? condition.display;
  if (coding === undefined) return `"${text}"`;
  const system = coding.system === null ? "no system" : (systemNames.get(coding.system) ?? coding.system);
  return `"${text}" (${system} ${coding.code})`;
}

const skippedVerificationStatuses = new Set(["refuted", "entered-in-error"]);

// ---- The record -----------------------------------------------------------------------

/** The date ages are computed at when none is given: the latest observation, so a bundle reads the same any day. */
function latestObservationDate(ehr: Ehr): Date | undefined {
  const latest = Math.max(...ehr.observations.map((o) => timeOf(o.date)));
  return Number.isFinite(latest) ? new Date(latest) : undefined;
}

export function recordFromEhr(ehr: Ehr, options: { asOf?: Date } = {}): ClinicalRecord {
  const record: ClinicalRecord = { symptoms: [], vitals: {}, labs: {}, history: [], notes: [] };
  // one line per distinct problem: a bundle of seven glucose results needs one note, not seven
  const note = (line: string): void => {
    if (!record.notes.includes(line)) record.notes.push(line);
  };

  if (ehr.sex !== undefined) record.sex = ehr.sex;
  if (ehr.birthDate !== undefined) {
    const asOf = options.asOf ?? latestObservationDate(ehr) ?? new Date();
    const age = ageInYears(ehr.birthDate, asOf);
    if (Number.isFinite(age) && age >= 0) record.age = age;
    else note(`Patient birthDate ${ehr.birthDate} is after ${asOf.toISOString().slice(0, 10)}`);
  } else if (ehr.age !== undefined) {
    record.age = ehr.age;
  }

  const fields = new Latest<{ spec: FieldSpec; value: number }>();
  const smoking = new Latest<SmokingStatusCode>();
  const packYears = new Latest<number>();
  for (const obs of ehr.observations) {
    if (obs.status !== null && skippedObservationStatuses.has(obs.status)) continue;
    const loinc = codesIn(obs.codings, LOINC);
    const where = `Observation ${observationCode(obs)}`;

    if (loinc.includes(SMOKING_STATUS_LOINC)) {
      const status = codesIn(obs.valueCodings, SNOMED)
        .map((code) => smokingCodes.get(code))
        .find((s) => s !== undefined);
      if (status !== undefined) smoking.offer("status", obs.date, status);
      else {
        const said = obs.valueCodings[0] === undefined ? `"${obs.valueText ?? obs.value}"` : codingLabel(obs.valueCodings[0]);
        note(`${where}: smoking status ${said} is not never/former/current`);
      }
      continue;
    }

    if (loinc.includes(PACK_YEARS_LOINC) || codesIn(obs.codings, SNOMED).includes(PACK_YEARS_SNOMED)) {
      // a count of pack-years whatever unit string came with it
      const value = obs.quantity?.value ?? (typeof obs.value === "number" ? obs.value : null);
      if (value !== null && Number.isFinite(value) && value >= 0) packYears.offer("packYears", obs.date, round(value, 1));
      else note(`${where}: pack-years without a numeric value`);
      continue;
    }

    const spec = loinc.map((code) => loincFields.get(code)).find((s) => s !== undefined);
    if (spec === undefined) {
      // a BP panel's own entry has no value; its components arrive as observations of their own
      if (!loinc.includes(BP_PANEL_LOINC)) note(`Observation ${observationLabel(obs)}: not a field the report model reads`);
      continue;
    }
    const quantity = obs.quantity;
    if (quantity === null || quantity.value === null) {
      note(`${where}: no quantity value`);
      continue;
    }
    const unit = quantityUnit(quantity);
    if (unit === null) {
      note(`${where}: no unit`);
      continue;
    }
    const converted = convert(quantity.value, unit, spec);
    if ("problem" in converted) note(`${where}: ${converted.problem}`);
    else fields.offer(spec.field, obs.date, { spec, value: converted.value });
  }

  for (const [, { spec, value }] of fields.entries()) {
    if (spec.group === "vitals") record.vitals[spec.field as keyof SynthVitals] = value;
    else record.labs[spec.field as keyof SynthLabs] = value;
  }
  const status = smoking.get("status");
  const years = packYears.get("packYears");
  if (status !== undefined)
    record.smoking = status === "never" || years === undefined ? { status } : { status, packYears: years };
  else if (years !== undefined) note(`Observation ${PACK_YEARS_LOINC}: pack-years without a smoking status`);

  for (const condition of ehr.conditions) {
    if (condition.verificationStatus !== null && skippedVerificationStatuses.has(condition.verificationStatus)) continue;
    const term = conditionTerm(condition);
    if (term === undefined) {
      note(`Condition ${conditionLabel(condition)}: not in the report model's vocabulary`);
      continue;
    }
    const list = term.kind === "symptom" ? record.symptoms : record.history;
    if (!list.includes(term.term)) list.push(term.term);
  }
  return record;
}

/** Parses FHIR R4 JSON (see ehrFromFhir) and maps it into the record. */
export function recordFromFhir(json: unknown, file?: string, options: { asOf?: Date } = {}): ClinicalRecord {
  return recordFromEhr(ehrFromFhir(json, file, options), options);
}
