// A synthetic patient record that goes with the image: demographics, smoking, symptoms,
// vitals, labs and history, each pulled in the direction the findings would push them
// (consolidation → fever, raised WBC and CRP; emphysema → older smoker; effusion and
// cardiomegaly → dyspnoea, raised NT-proBNP; mass → weight loss, haemoptysis; ...).
// Names and identifiers are obviously synthetic.

import type { Rng } from "../../runtime/index.js";
import type { FindingType, SmokingStatus, SynthEhr, SynthFinding } from "./types.js";

const givenNames = [
  "Alex",
  "Sam",
  "Jordan",
  "Taylor",
  "Morgan",
  "Casey",
  "Riley",
  "Jamie",
  "Avery",
  "Quinn",
  "Wei",
  "Min",
  "Lin",
  "Yu",
];

const round1 = (v: number): number => Math.round(v * 10) / 10;

export function synthEhr(rng: Rng, id: string, serial: number, findings: readonly SynthFinding[]): SynthEhr {
  const has = (type: FindingType): boolean => findings.some((f) => f.type === type);
  const severe = (type: FindingType): boolean =>
    findings.some((f) => f.type === type && (f.severity === "severe" || f.severity === "large"));

  const infection = has("consolidation");
  const copd = has("emphysema");
  const heartFailure =
    has("cardiomegaly") || (has("effusion") && findings.some((f) => f.type === "effusion" && f.side === "bilateral"));
  const cancer = has("mass");
  const pneumothorax = has("pneumothorax");

  // Age: emphysema, mass and cardiomegaly older; spontaneous pneumothorax younger.
  let meanAge = 52;
  if (copd || cancer) meanAge = 67;
  else if (heartFailure) meanAge = 71;
  else if (pneumothorax) meanAge = 33;
  else if (has("nodule")) meanAge = 60;
  const age = Math.round(rng.clampedNormal(meanAge, 11, 18, 94));
  const sex = rng.chance(pneumothorax ? 0.75 : 0.5) ? "M" : "F";

  const smokerOdds = copd ? 0.95 : cancer ? 0.85 : has("nodule") ? 0.55 : 0.3;
  let status: SmokingStatus = "never";
  let packYears = 0;
  if (rng.chance(smokerOdds)) {
    status = rng.chance(0.5) ? "current" : "former";
    packYears = Math.round(rng.clampedNormal(copd ? 45 : cancer ? 40 : 20, 12, 2, 110));
  }

  const symptoms: string[] = [];
  const history: string[] = [];
  if (infection) symptoms.push("fever", "productive cough");
  if (copd || has("effusion") || heartFailure || pneumothorax || severe("consolidation")) symptoms.push("dyspnoea");
  if (pneumothorax) symptoms.push("sudden pleuritic chest pain");
  if (cancer) symptoms.push("weight loss", ...(rng.chance(0.5) ? ["haemoptysis"] : []));
  if (heartFailure) symptoms.push("ankle swelling", "orthopnoea");
  if (copd) history.push("COPD");
  if (heartFailure) history.push("hypertension", "heart failure");
  if (status !== "never" && rng.chance(0.3)) history.push("hyperlipidaemia");
  if (age > 60 && rng.chance(0.25)) history.push("type 2 diabetes");
  if (symptoms.length === 0) symptoms.push(rng.pick(["routine screening", "chronic cough", "atypical chest pain"]));
  if (history.length === 0 && rng.chance(0.6)) history.push("no significant past history");

  const fever = infection ? rng.uniform(1.2, 2.6) : 0;
  const hypoxia =
    (infection ? 4 : 0) + (copd ? 3 : 0) + (pneumothorax ? 4 : 0) + (has("effusion") ? 2 : 0) + (heartFailure ? 2 : 0);
  const vitals = {
    heartRate: Math.round(rng.clampedNormal(74 + fever * 9 + (pneumothorax ? 18 : 0) + (heartFailure ? 8 : 0), 8, 45, 150)),
    respRate: Math.round(rng.clampedNormal(15 + hypoxia * 0.9, 2, 10, 40)),
    spo2: Math.round(rng.clampedNormal(98 - hypoxia * 0.9, 1, 78, 100)),
    tempC: round1(rng.clampedNormal(36.8 + fever, 0.25, 35.8, 40.5)),
    systolic: Math.round(rng.clampedNormal(heartFailure ? 145 : 124, 12, 85, 200)),
    diastolic: 0,
  };
  vitals.diastolic = Math.round(Math.min(vitals.systolic - 25, rng.clampedNormal(vitals.systolic * 0.62, 6, 45, 120)));

  const labs = {
    wbc: round1(rng.clampedNormal(infection ? 14.5 : 7, infection ? 2.5 : 1.5, 2.5, 30)),
    crp: round1(infection ? rng.clampedNormal(120, 45, 30, 350) : rng.clampedNormal(cancer ? 18 : 3, cancer ? 8 : 2, 0.2, 60)),
    hemoglobin: round1(rng.clampedNormal(cancer ? 11.2 : sex === "M" ? 14.6 : 13.2, 1, 7, 18)),
    platelets: Math.round(rng.clampedNormal(infection ? 320 : 250, 50, 90, 600)),
    ntProBnp: Math.round(heartFailure ? rng.clampedNormal(2400, 900, 500, 9000) : rng.clampedNormal(80, 40, 10, 300)),
    ldh: Math.round(rng.clampedNormal(cancer ? 320 : 190, 35, 100, 700)),
  };

  return {
    patientName: `SYNTHETIC^${rng.pick(givenNames)} ${id.toUpperCase()}`,
    patientId: `SYN-${id}`,
    mrn: `MRN-SYN-${String(serial).padStart(9, "0")}`,
    age,
    sex,
    smoker: { status, packYears },
    symptoms,
    vitals,
    labs,
    history,
  };
}
