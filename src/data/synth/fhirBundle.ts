// A synthetic EHR written as a FHIR R4 Bundle the way hospital systems send one (Synthea /
// Epic-like): urn:uuid fullUrls, a Patient with name, MRN, address and telecom, an Encounter,
// Practitioner and Organization, vital-sign and lab Observations with LOINC codes (sometimes
// after a local code), UCUM quantities in units hospitals use (°F, g/L, 10*3/uL, mg/dL,
// ukat/L), one blood-pressure panel, smoking status and Conditions, in random order. Some
// bundles also carry an older reading and an entered-in-error one, which a reader must not
// prefer over the current value. Values are written so that converting them back to the
// JSON EHR's units and rounding gives the JSON EHR's numbers.

import type { Rng } from "../../runtime/index.js";
import type { SynthEhr, SynthLabs, SynthVitals } from "./types.js";

const LOINC = "http://loinc.org";
const SNOMED = "http://snomed.info/sct";
const UCUM = "http://unitsofmeasure.org";
/** An Epic-style local flowsheet code system, listed before LOINC as Epic does. */
const EPIC_FLOWSHEET = "urn:oid:1.2.840.114350.1.13.0.1.7.2.707679";

const DEFAULT_DATE = "2026-03-14T09:30:00Z";
const DAY_MS = 86_400_000;

type Json = Record<string, unknown>;

interface Quantity {
  value: number;
  unit: string;
  code: string;
}

const round = (value: number, decimals: number): number => Math.round(value * 10 ** decimals) / 10 ** decimals;
const ucumQuantity = ({ value, unit, code }: Quantity): Json => ({ value, unit, system: UCUM, code });

function uuid(rng: Rng): string {
  const hex = (n: number): string => Array.from({ length: n }, () => rng.int(16).toString(16)).join("");
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${rng.pick(["8", "9", "a", "b"])}${hex(3)}-${hex(12)}`;
}

/** Whole years from a YYYY-MM-DD birth date to `at` (UTC). */
function yearsAt(birth: Date, at: Date): number {
  const years = at.getUTCFullYear() - birth.getUTCFullYear();
  const beforeBirthday =
    at.getUTCMonth() < birth.getUTCMonth() || (at.getUTCMonth() === birth.getUTCMonth() && at.getUTCDate() < birth.getUTCDate());
  return beforeBirthday ? years - 1 : years;
}

/** A birth date at which the patient is exactly `age` on `at`: a random day of that year of life. */
function birthDateFor(age: number, at: Date, rng: Rng): string {
  const lastBirthday = Date.UTC(at.getUTCFullYear() - age, at.getUTCMonth(), at.getUTCDate());
  for (let daysBack = rng.int(365); ; daysBack = (daysBack + 1) % 365) {
    const birth = new Date(lastBirthday - daysBack * DAY_MS);
    if (yearsAt(birth, at) === age) return birth.toISOString().slice(0, 10);
  }
}

interface VitalSpec {
  loinc: string;
  display: string;
  /** Epic flowsheet row id, sent as a first coding by some systems */
  flowsheet: string;
  quantity: (v: number, rng: Rng) => Quantity;
}

const vitalSpecs: Record<Exclude<keyof SynthVitals, "systolic" | "diastolic">, VitalSpec> = {
  heartRate: {
    loinc: "8867-4",
    display: "Heart rate",
    flowsheet: "8",
    quantity: (v) => ({ value: v, unit: "/min", code: "/min" }),
  },
  respRate: {
    loinc: "9279-1",
    display: "Respiratory rate",
    flowsheet: "9",
    quantity: (v) => ({ value: v, unit: "/min", code: "/min" }),
  },
  spo2: {
    loinc: "59408-5",
    display: "Oxygen saturation in Arterial blood by Pulse oximetry",
    flowsheet: "10",
    quantity: (v) => ({ value: v, unit: "%", code: "%" }),
  },
  tempC: {
    loinc: "8310-5",
    display: "Body temperature",
    flowsheet: "6",
    // US systems chart °F; two decimals round-trip through °C at one decimal
    quantity: (v, rng) =>
      rng.chance(0.4) ? { value: round(v * 1.8 + 32, 2), unit: "°F", code: "[degF]" } : { value: v, unit: "Cel", code: "Cel" },
  },
};

interface LabSpec {
  loinc: string;
  display: string;
  quantity: (v: number, rng: Rng) => Quantity;
}

/** Cell counts come as 10*3/uL (US labs) or 10*9/L (SI): the same number either way. */
const cellCount = (v: number, rng: Rng): Quantity =>
  rng.chance(0.5) ? { value: v, unit: "10*3/uL", code: "10*3/uL" } : { value: v, unit: "10*9/L", code: "10*9/L" };

const labSpecs: Record<keyof SynthLabs, LabSpec> = {
  wbc: {
    loinc: "6690-2",
    display: "Leukocytes [#/volume] in Blood by Automated count",
    quantity: cellCount,
  },
  crp: {
    loinc: "1988-5",
    display: "C reactive protein [Mass/volume] in Serum or Plasma",
    quantity: (v, rng) =>
      rng.chance(0.4) ? { value: round(v / 10, 2), unit: "mg/dL", code: "mg/dL" } : { value: v, unit: "mg/L", code: "mg/L" },
  },
  hemoglobin: {
    loinc: "718-7",
    display: "Hemoglobin [Mass/volume] in Blood",
    quantity: (v, rng) =>
      rng.chance(0.4) ? { value: round(v * 10, 0), unit: "g/L", code: "g/L" } : { value: v, unit: "g/dL", code: "g/dL" },
  },
  platelets: {
    loinc: "777-3",
    display: "Platelets [#/volume] in Blood by Automated count",
    quantity: cellCount,
  },
  ntProBnp: {
    loinc: "33762-6",
    display: "Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma",
    quantity: (v) => ({ value: v, unit: "pg/mL", code: "pg/mL" }),
  },
  ldh: {
    loinc: "2532-0",
    display: "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma",
    // 1 µkat/L = 60 U/L; two decimals round-trip to whole U/L
    quantity: (v, rng) =>
      rng.chance(0.3) ? { value: round(v / 60, 2), unit: "µkat/L", code: "ukat/L" } : { value: v, unit: "U/L", code: "U/L" },
  },
};

/** SNOMED codes and Synthea-style displays of the JSON EHR's terms; the rest are sent as text only. */
const conditionCodes = new Map<string, { code: string; display: string }>([
  ["COPD", { code: "13645005", display: "Chronic obstructive lung disease (disorder)" }],
  ["hypertension", { code: "59621000", display: "Essential hypertension (disorder)" }],
  ["heart failure", { code: "84114007", display: "Heart failure (disorder)" }],
  ["hyperlipidaemia", { code: "55822004", display: "Hyperlipidemia (disorder)" }],
  ["type 2 diabetes", { code: "44054006", display: "Diabetes mellitus type 2 (disorder)" }],
  ["fever", { code: "386661006", display: "Fever (finding)" }],
  ["productive cough", { code: "28743005", display: "Productive cough (finding)" }],
  ["dyspnoea", { code: "267036007", display: "Dyspnea (finding)" }],
  ["weight loss", { code: "89362005", display: "Weight loss (finding)" }],
  ["haemoptysis", { code: "66857006", display: "Hemoptysis (finding)" }],
  ["orthopnoea", { code: "62744007", display: "Orthopnea (finding)" }],
  ["chronic cough", { code: "68154008", display: "Chronic cough (finding)" }],
]);

/** How a text-only Condition spells the term (as clinicians type it). */
const conditionTexts = new Map<string, string>([
  ["ankle swelling", "Swollen ankles"],
  ["sudden pleuritic chest pain", "Sudden pleuritic chest pain"],
  ["routine screening", "Routine screening"],
  ["atypical chest pain", "Atypical chest pain"],
  ["no significant past history", "No significant past medical history"],
]);

const smokingSnomed = {
  never: [{ code: "266919005", display: "Never smoked tobacco (finding)" }],
  former: [{ code: "8517006", display: "Ex-smoker (finding)" }],
  current: [
    { code: "77176002", display: "Smoker (finding)" },
    { code: "449868002", display: "Smokes tobacco daily (finding)" },
  ],
};

function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

export function fhirBundleFromSynthEhr(ehr: SynthEhr, rng: Rng, options: { date?: string } = {}): object {
  const date = options.date ?? DEFAULT_DATE;
  const at = new Date(date);
  const isoAt = (offsetMs: number): string => new Date(at.getTime() + offsetMs).toISOString().replace(".000Z", "Z");
  const [given, family] = ehr.patientName.replace("SYNTHETIC^", "").split(" ");

  const ids = { patient: uuid(rng), encounter: uuid(rng), practitioner: uuid(rng), organization: uuid(rng) };
  const patientRef = { reference: `urn:uuid:${ids.patient}` };
  const encounterRef = { reference: `urn:uuid:${ids.encounter}` };
  const performer = [{ reference: `urn:uuid:${ids.practitioner}` }];
  const resources: Json[] = [];

  resources.push({
    resourceType: "Patient",
    id: ids.patient,
    meta: { profile: ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"] },
    identifier: [
      {
        type: {
          coding: [{ system: "http://terminology.hl7.org/CodeSystem/v2-0203", code: "MR", display: "Medical Record Number" }],
        },
        system: "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14",
        value: ehr.mrn,
      },
      { system: "https://github.com/synthetichealth/synthea", value: ehr.patientId },
    ],
    name: [{ use: "official", family: family ?? "SYNTHETIC", given: [given ?? "Patient"] }],
    telecom: [
      { system: "phone", value: `555-${String(rng.intBetween(100, 999))}-${String(rng.intBetween(1000, 9999))}`, use: "home" },
    ],
    gender: ehr.sex === "M" ? "male" : "female",
    birthDate: birthDateFor(ehr.age, at, rng),
    address: [
      { line: [`${rng.intBetween(1, 999)} Synthetic Way`], city: "Testville", state: "MA", postalCode: "01999", country: "US" },
    ],
  });
  resources.push({
    resourceType: "Encounter",
    id: ids.encounter,
    status: "finished",
    class: { system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "AMB" },
    subject: patientRef,
    period: { start: isoAt(-30 * 60_000), end: isoAt(60 * 60_000) },
    serviceProvider: { reference: `urn:uuid:${ids.organization}` },
  });
  resources.push({
    resourceType: "Practitioner",
    id: ids.practitioner,
    name: [{ family: "Synthetic", given: ["Dana"], prefix: ["Dr."] }],
  });
  resources.push({ resourceType: "Organization", id: ids.organization, name: "Synthetic General Hospital" });

  const observation = (
    category: "vital-signs" | "laboratory" | "social-history",
    codings: Json[],
    text: string,
    value: Json,
    effective: string,
    status = "final",
  ): Json => ({
    resourceType: "Observation",
    id: uuid(rng),
    ...(category === "vital-signs" ? { meta: { profile: ["http://hl7.org/fhir/StructureDefinition/vitalsigns"] } } : {}),
    status,
    category: [
      {
        coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: category }],
      },
    ],
    code: { coding: codings, text },
    subject: patientRef,
    encounter: encounterRef,
    effectiveDateTime: effective,
    issued: isoAt(rng.intBetween(5, 90) * 60_000),
    performer,
    ...value,
  });
  const loinc = (code: string, display: string): Json => ({ system: LOINC, code, display });
  const vitalCodings = (spec: { loinc: string; display: string; flowsheet: string }): Json[] =>
    rng.chance(0.3)
      ? [{ system: EPIC_FLOWSHEET, code: spec.flowsheet, display: spec.display.toUpperCase() }, loinc(spec.loinc, spec.display)]
      : [loinc(spec.loinc, spec.display)];

  const vitalsAt = isoAt(0);
  for (const [field, spec] of Object.entries(vitalSpecs) as [keyof typeof vitalSpecs, VitalSpec][]) {
    const value = ehr.vitals[field];
    const valueQuantity = ucumQuantity(spec.quantity(value, rng));
    resources.push(observation("vital-signs", vitalCodings(spec), spec.display, { valueQuantity }, vitalsAt));
    // an earlier reading of the same vital: the reader must keep the latest
    if (rng.chance(0.15)) {
      const earlier = ucumQuantity(spec.quantity(value + (field === "tempC" ? 0.4 : 3), rng));
      resources.push(observation("vital-signs", vitalCodings(spec), spec.display, { valueQuantity: earlier }, isoAt(-DAY_MS)));
    }
  }
  const mmHg = (v: number): Json => ucumQuantity({ value: v, unit: "mm[Hg]", code: "mm[Hg]" });
  resources.push(
    observation(
      "vital-signs",
      vitalCodings({ loinc: "85354-9", display: "Blood pressure panel with all children optional", flowsheet: "5" }),
      "Blood pressure",
      {
        component: [
          { code: { coding: [loinc("8480-6", "Systolic blood pressure")] }, valueQuantity: mmHg(ehr.vitals.systolic) },
          { code: { coding: [loinc("8462-4", "Diastolic blood pressure")] }, valueQuantity: mmHg(ehr.vitals.diastolic) },
        ],
      },
      vitalsAt,
    ),
  );

  // labs are drawn before the vitals are charted
  const labsAt = isoAt(-rng.intBetween(10, 120) * 60_000);
  for (const [field, spec] of Object.entries(labSpecs) as [keyof SynthLabs, LabSpec][]) {
    const valueQuantity = ucumQuantity(spec.quantity(ehr.labs[field], rng));
    resources.push(observation("laboratory", [loinc(spec.loinc, spec.display)], spec.display, { valueQuantity }, labsAt));
  }
  // a mistyped result later marked entered-in-error: never to be read
  if (rng.chance(0.15)) {
    const spec = labSpecs.wbc;
    const wrong = ucumQuantity({ value: round(ehr.labs.wbc * 10, 1), unit: "10*9/L", code: "10*9/L" });
    resources.push(
      observation(
        "laboratory",
        [loinc(spec.loinc, spec.display)],
        spec.display,
        { valueQuantity: wrong },
        isoAt(0),
        "entered-in-error",
      ),
    );
  }

  const smoking = rng.pick(smokingSnomed[ehr.smoker.status]);
  resources.push(
    observation(
      "social-history",
      [loinc("72166-2", "Tobacco smoking status")],
      "Tobacco smoking status",
      { valueCodeableConcept: { coding: [{ system: SNOMED, ...smoking }], text: smoking.display.replace(/ \(finding\)$/, "") } },
      vitalsAt,
    ),
  );
  if (ehr.smoker.status !== "never" && ehr.smoker.packYears > 0) {
    resources.push(
      observation(
        "social-history",
        [loinc("8664-7", "Tobacco smoking status [Pack-years]")],
        "Pack-years",
        { valueQuantity: ucumQuantity({ value: ehr.smoker.packYears, unit: "{pack-years}", code: "{pack-years}" }) },
        vitalsAt,
      ),
    );
  }

  const condition = (term: string, category: "problem-list-item" | "encounter-diagnosis"): Json => {
    const coded = conditionCodes.get(term);
    const code = coded
      ? {
          coding: [{ system: SNOMED, ...coded }],
          ...(rng.chance(0.5) ? { text: coded.display.replace(/ \((finding|disorder)\)$/, "") } : {}),
        }
      : { text: conditionTexts.get(term) ?? term };
    return {
      resourceType: "Condition",
      id: uuid(rng),
      clinicalStatus: {
        coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: "active" }],
      },
      verificationStatus: {
        coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-ver-status", code: "confirmed" }],
      },
      category: [{ coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-category", code: category }] }],
      code,
      subject: patientRef,
      encounter: encounterRef,
      recordedDate: isoAt(0),
    };
  };
  // Conditions keep their JSON EHR order among themselves, so the record lists terms in that order
  const conditions = [
    ...ehr.symptoms.map((term) => condition(term, "encounter-diagnosis")),
    ...ehr.history.map((term) => condition(term, "problem-list-item")),
  ];
  const others = shuffle(resources, rng);
  const entries: Json[] = [];
  // interleave the Conditions (in order) at random places among the other resources
  let next = 0;
  for (const resource of others) {
    while (next < conditions.length && rng.chance(0.3)) entries.push(conditions[next++]);
    entries.push(resource);
  }
  entries.push(...conditions.slice(next));

  const type = rng.pick(["collection", "searchset", "transaction"] as const);
  return {
    resourceType: "Bundle",
    id: uuid(rng),
    type,
    ...(type === "searchset" ? { total: entries.length } : {}),
    entry: entries.map((resource) => ({
      fullUrl: `urn:uuid:${resource.id}`,
      resource,
      ...(type === "transaction" ? { request: { method: "POST", url: resource.resourceType } } : {}),
      ...(type === "searchset" ? { search: { mode: "match" } } : {}),
    })),
  };
}
