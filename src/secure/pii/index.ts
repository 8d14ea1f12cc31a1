// PHI/PII detection and redaction for English and Chinese text (public surface).

export { detectSensitive, isSensitive, redact, sensitivity } from "./detect.js";
export { type FoldedText, foldForDetection, foldText } from "./fold.js";
export {
  type PiiFinding,
  type PiiKind,
  type PiiOptions,
  type PiiResult,
  type PiiSensitivity,
  piiKinds,
  piiOptionsSchema,
  piiPlaceholders,
} from "./types.js";
export { chineseIdCheckChar, isCardNumber, isPastDateText, isValidChineseId, isValidSsn, luhnValid } from "./validate.js";
