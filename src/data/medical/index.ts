// Readers for real medical files: DICOM, NIfTI, PNG/JPEG and FHIR R4 EHR JSON.
// Every failure is a MedicalFileError naming the file and what was wrong.

export {
  type DicomImage,
  type DicomPatient,
  isDicom,
  readDicom,
  SUPPORTED_TRANSFER_SYNTAXES,
  windowValues,
} from "./dicom.js";
export { type FileInput, MedicalFileError, type MedicalFileProblem } from "./errors.js";
export {
  ageInYears,
  type CodedCondition,
  type CodedObservation,
  type Ehr,
  type EhrCoding,
  type EhrCondition,
  type EhrObservation,
  type EhrQuantity,
  ehrFromFhir,
  type FhirOptions,
  readFhirEhr,
} from "./fhir.js";
export {
  type ClinicalRecord,
  recordFromEhr,
  recordFromFhir,
  recordFromSynthEhr,
  type SmokingStatusCode,
} from "./fhirRecord.js";
export { type MedicalImage, type MedicalImageFormat, readMedicalImage, sniffFormat } from "./image.js";
export { isNifti, type NiftiVolume, readNifti } from "./nifti.js";
export { type GrayImage, isJpeg, isPng, readJpeg, readPng } from "./raster.js";
