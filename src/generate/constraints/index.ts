// Constrained decoding: byte automata (terminology, report sections, JSON schema) compiled to
// token masks for `generate`'s `logitsMask` option.

export { acceptsPrefix, acceptsText, type ByteAutomaton, intersect, runBytes } from "./automaton.js";
export { budgetedMask } from "./budget.js";
export { ConstraintDeadEndError, ConstraintViolationError, constrainedMask } from "./constrainedMask.js";
export { findingsJsonSchema, findingsSchema } from "./findingsSchema.js";
export {
  freeValueDepth,
  type JsonLiteral,
  type JsonSchema,
  JsonSchemaError,
  type JsonState,
  type JsonTypeName,
  jsonSchemaAutomaton,
} from "./jsonSchema.js";
export { generalWordsFromTexts, isCjk, type Lexicon, lexiconFromTerms, splitWords } from "./lexicon.js";
export { lexiconPhrases, type PhraseState, phraseAutomaton } from "./phrases.js";
export { type SectionOptions, type SectionState, sectionAutomaton, sectionFormats } from "./sections.js";
export { type TerminologyOptions, type TerminologyState, terminologyAutomaton } from "./terminology.js";
export {
  debianMedicalDictionary,
  editDistance,
  lexiconWordsMissingFrom,
  loadMedicalWordList,
  readWordList,
  type TermHit,
  type TermValidity,
  termValidity,
} from "./termValidity.js";
export { notAllowedCost, TokenMasker, type TokenMaskOptions, tokenMaskDefaults, tokenMaskFor } from "./tokenMask.js";
export {
  type TextOrToolCallState,
  type ToolCallState,
  type ToolSpec,
  textOrToolCall,
  toolCallAutomaton,
  toolCallHeader,
} from "./toolCall.js";
export { utf8TextAutomaton } from "./utf8Text.js";
export { byteLevelBytes, type TokenVocabulary, VocabularyError, vocabularyFromBpe } from "./vocabulary.js";
