// The shapes of a synthetic chest CT case: findings, EHR, reports, options.

export type FindingType = "nodule" | "mass" | "effusion" | "consolidation" | "cardiomegaly" | "pneumothorax" | "emphysema";

/** Every finding type, in the order reports list them. */
export const findingTypes: readonly FindingType[] = [
  "nodule",
  "mass",
  "effusion",
  "consolidation",
  "cardiomegaly",
  "pneumothorax",
  "emphysema",
];

/** The patient's side (radiological convention: the patient's right is on the image's left). */
export type Side = "left" | "right" | "bilateral";
export const sides: readonly Side[] = ["right", "left", "bilateral"];

export type Lobe = "RUL" | "RML" | "RLL" | "LUL" | "lingula" | "LLL";
export const lobes: readonly Lobe[] = ["RUL", "RML", "RLL", "LUL", "lingula", "LLL"];

export type Severity = "small" | "moderate" | "large" | "mild" | "severe";

/** Pixel bounding box, x0 ≤ x < x1 and y0 ≤ y < y1 (x to the image's right, y down = posterior). */
export interface PixelRegion {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface SynthFinding {
  type: FindingType;
  /** every type but cardiomegaly */
  side?: Side;
  /** nodule, mass, consolidation */
  lobe?: Lobe;
  /** nodule (integer mm, 6–30) and mass (31–70); largest diameter */
  sizeMm?: number;
  /** effusion: small/moderate/large; pneumothorax: small/large; emphysema and cardiomegaly: mild/severe */
  severity?: Severity;
  /** consolidation: air-filled bronchi drawn through it (and named in the report) */
  airBronchograms?: boolean;
  /** Where it is drawn, in pixels, so tests and the report page can locate/highlight it. */
  region: PixelRegion;
}

/** A finding as read back from report text: everything but where it is drawn. */
export type LabelledFinding = Omit<SynthFinding, "region">;

export type SliceLevel = "upper" | "mid" | "lower";

export type SmokingStatus = "never" | "former" | "current";

export interface SynthVitals {
  heartRate: number;
  respRate: number;
  /** % */
  spo2: number;
  tempC: number;
  systolic: number;
  diastolic: number;
}

export interface SynthLabs {
  /** white cells, 10^9/L */
  wbc: number;
  /** C-reactive protein, mg/L */
  crp: number;
  /** haemoglobin, g/dL */
  hemoglobin: number;
  /** platelets, 10^9/L */
  platelets: number;
  /** NT-proBNP, pg/mL (raised in heart failure) */
  ntProBnp: number;
  /** lactate dehydrogenase, U/L */
  ldh: number;
}

export interface SynthEhr {
  /** clearly synthetic, DICOM person-name style "SYNTHETIC^Given" */
  patientName: string;
  patientId: string;
  mrn: string;
  age: number;
  sex: "M" | "F";
  smoker: { status: SmokingStatus; packYears: number };
  symptoms: string[];
  vitals: SynthVitals;
  labs: SynthLabs;
  history: string[];
}

export interface SynthReport {
  findings: string;
  impression: string;
}

export interface SynthCase {
  /** e.g. "s7-000042" */
  id: string;
  seed: number;
  index: number;
  width: number;
  height: number;
  pixelSpacingMm: number;
  /** row-major Hounsfield units, length width*height */
  hu: Int16Array;
  /** axial level: which lobes are visible depends on it */
  sliceLevel: SliceLevel;
  /** [] = normal; ordered as the report lists them */
  findings: SynthFinding[];
  /** heart width / inner thorax width, 2 decimals; absent at the upper level where the heart is not in the slice */
  cardiothoracicRatio?: number;
  /** scan date, YYYYMMDD, derived from the seed */
  studyDate: string;
  ehr: SynthEhr;
  report: { en: SynthReport; zh: SynthReport };
}

export interface SynthOptions {
  /** image width and height in pixels (default 128) */
  size?: number;
  /** fraction of cases without findings (default 0.1) */
  normalFraction?: number;
}
