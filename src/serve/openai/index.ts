// OpenAI wire format: request schemas, response types, readable validation errors.

export { describeIssue, describeValue, formatPath, type IssueDescription } from "./issues.js";
export type {
  ChatCompletion,
  ChatCompletionChoice,
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  ChatCompletionMessage,
  Completion,
  CompletionChoice,
  CompletionUsage,
  CreateEmbeddingResponse,
  Embedding,
  FinishReason,
  Model,
  ModelList,
} from "./responses.js";
export {
  type ChatCompletionRequest,
  type ChatMessage,
  type CompletionRequest,
  chatCompletionRequestSchema,
  chatMessageSchema,
  completionRequestSchema,
  type EmbeddingsRequest,
  embeddingsRequestSchema,
  maxEmbeddingInputs,
  messageText,
  parseBody,
  type TextPart,
  textPartSchema,
} from "./schemas.js";
