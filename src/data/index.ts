// Data layer: tokenizers, corpora, batches, DICOM/NIfTI/FHIR readers (./medical), synthetic
// CT + EHR + reports (./synth) and the synthetic EHR risk set. The public surface of src/data.

export { gatherRows, lmBatch, splitTokens, unigramCrossEntropy } from "./batches.js";
export { BpeTokenizer, byteLevelChar, DEFAULT_SPECIAL_TOKENS, trainBpe } from "./bpe.js";
export { CharTokenizer } from "./charTokenizer.js";
export {
  CHAT_ROLE_TOKENS,
  CHAT_TEMPLATE_JINJA,
  type ChatRole,
  type ChatTurn,
  chatTemplatePrompt,
  chatTranscript,
  END_OF_TURN,
} from "./chatTemplate.js";
export { type MixedCorpusSizes, mixedCorpus } from "./corpora.js";
export { FORTUNES_DIR, loadFortunes } from "./corpus.js";
export { type DocSection, loadDebianHandbook, loadDebianReference, sectionsText } from "./docCorpora.js";
export {
  BASE_MODEL_PACKAGES,
  type ChangelogOptions,
  COMMON_LICENSES_DIR,
  DOC_DIR,
  debianChangelogs,
  type FinetuneCorpus,
  type FinetuneCorpusOptions,
  licenseTexts,
} from "./finetuneCorpora.js";
export {
  type EncodedRecord,
  encodeFinetuneRecord,
  FINETUNE_ROLES,
  type FinetuneData,
  FinetuneDataError,
  type FinetuneDataOptions,
  type FinetuneFormat,
  type FinetuneLineError,
  type FinetuneMessage,
  type FinetuneRecord,
  type FinetuneRole,
  type FinetuneStream,
  parseFinetuneJsonl,
  readFinetuneData,
  splitRecords,
  splitText,
  textFinetuneData,
} from "./finetuneData.js";
export { type InstructionPair, instructionPairs, leadingSentences, loadPoems, pairTurns } from "./instructions.js";
export {
  type ClinicalRecord,
  type Ehr,
  ehrFromFhir,
  MedicalFileError,
  type MedicalImage,
  readMedicalImage,
  recordFromEhr,
  recordFromFhir,
  recordFromSynthEhr,
  type SmokingStatusCode,
  windowValues,
} from "./medical/index.js";
export {
  encodeCtDicom,
  encodeGrayPng,
  encodePng,
  type FindingType,
  fhirBundleFromSynthEhr,
  findingTypes,
  type LabelledFinding,
  labelReport,
  lobes,
  reportTerms,
  reportText,
  type SynthCase,
  type SynthEhr,
  severityTerms,
  sides,
  synthChestCases,
  synthChestSet,
  synthDefaults,
  type WrittenCase,
  writeSynthCase,
} from "./synth/index.js";
export { type EhrDataset, ehrSplit } from "./synthEhrRisk.js";
