// Synthetic chest CT slices with matching EHR and English/Chinese reports, for training
// and testing the image–text aligner and the report generator. Every case is a pure
// function of (seed, index, options).

export { fieldOfViewMm, lobesAtLevel } from "./anatomy.js";
export {
  caseId,
  findingSignature,
  type SynthSetOptions,
  synthChestCase,
  synthChestCases,
  synthChestSet,
  synthDefaults,
} from "./case.js";
export { ctImageStorage, derivedUid, encodeCtDicom, explicitVrLittleEndian } from "./dicom.js";
export { fhirBundleFromSynthEhr } from "./fhirBundle.js";
export { labelReport } from "./labeller.js";
export { compareFindings, massSizeRange, noduleSizeRange } from "./plan.js";
export { encodeGrayPng, encodePng, lungWindow } from "./png.js";
export {
  findingTerms,
  levelTerms,
  lobeTerms,
  type ReportTerm,
  type ReportTermKind,
  reportTerms,
  reportText,
  severityTerms,
  sideTerms,
} from "./report.js";
export {
  type FindingType,
  findingTypes,
  type LabelledFinding,
  type Lobe,
  lobes,
  type PixelRegion,
  type Severity,
  type Side,
  type SliceLevel,
  type SmokingStatus,
  type SynthCase,
  type SynthEhr,
  type SynthFinding,
  type SynthLabs,
  type SynthOptions,
  type SynthReport,
  type SynthVitals,
  sides,
} from "./types.js";
export { caseRecord, type WrittenCase, writeSynthCase } from "./write.js";
