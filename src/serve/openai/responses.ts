// Response objects of the OpenAI-compatible endpoints, shaped exactly as OpenAI returns
// them (snake_case fields included) so the `openai` npm client and the Vercel AI SDK
// read them unchanged.

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletionMessage {
  role: "assistant";
  content: string | null;
  refusal: string | null;
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatCompletionMessage;
  logprobs: null;
  finish_reason: FinishReason;
}

/** `POST /v1/chat/completions` without streaming. */
export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  /** Unix seconds. */
  created: number;
  model: string;
  choices: ChatCompletionChoice[];
  usage?: CompletionUsage;
  system_fingerprint?: string;
}

export interface ChatCompletionChunkChoice {
  index: number;
  delta: { role?: "assistant"; content?: string | null; refusal?: string | null };
  logprobs?: null;
  finish_reason: FinishReason | null;
}

/**
 * One SSE event of a streamed chat completion. With `stream_options.include_usage` the
 * last chunk has empty `choices` and the usage; the others carry `usage: null`.
 */
export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: ChatCompletionChunkChoice[];
  usage?: CompletionUsage | null;
  system_fingerprint?: string;
}

export interface CompletionChoice {
  text: string;
  index: number;
  logprobs: null;
  finish_reason: FinishReason | null;
}

/** `POST /v1/completions`; streamed responses are a sequence of these objects too. */
export interface Completion {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: CompletionChoice[];
  usage?: CompletionUsage | null;
  system_fingerprint?: string;
}

export interface Embedding {
  object: "embedding";
  index: number;
  /** Floats, or base64 of little-endian float32 when `encoding_format: "base64"`. */
  embedding: number[] | string;
}

export interface CreateEmbeddingResponse {
  object: "list";
  data: Embedding[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface Model {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

/** `GET /v1/models`. */
export interface ModelList {
  object: "list";
  data: Model[];
}
