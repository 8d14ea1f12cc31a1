// Response objects of the OpenAI-compatible endpoints, shaped exactly as OpenAI returns
// them (snake_case fields included) so the `openai` npm client and the Vercel AI SDK
// read them unchanged.

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** A call of a function tool the model made; `arguments` is JSON text. */
export interface ChatCompletionMessageToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatCompletionMessage {
  role: "assistant";
  /** null when the reply is a tool call. */
  content: string | null;
  refusal: string | null;
  tool_calls?: ChatCompletionMessageToolCall[];
}

/** One alternative token at a position. `bytes`: its UTF-8 bytes (a token may hold part of a character). */
export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
}

/** One generated token, its log probability and the most likely alternatives. */
export interface ChatCompletionTokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

export interface ChatChoiceLogprobs {
  content: ChatCompletionTokenLogprob[] | null;
  refusal: ChatCompletionTokenLogprob[] | null;
}

export interface ChatCompletionChoice {
  index: number;
  message: ChatCompletionMessage;
  logprobs: ChatChoiceLogprobs | null;
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

/** A streamed part of a tool call: the first has id, type and name; later ones add to `arguments`. */
export interface ChatCompletionChunkToolCall {
  index: number;
  id?: string;
  type?: "function";
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunkChoice {
  index: number;
  delta: {
    role?: "assistant";
    content?: string | null;
    refusal?: string | null;
    tool_calls?: ChatCompletionChunkToolCall[];
  };
  logprobs?: ChatChoiceLogprobs | null;
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

/** Legacy completions' log probabilities: parallel arrays, one entry per token. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  /** Per token: the alternatives' text → log probability. */
  top_logprobs: Record<string, number>[];
  /** Where each token starts in the choice's text (UTF-16 units). */
  text_offset: number[];
}

export interface CompletionChoice {
  text: string;
  index: number;
  logprobs: CompletionLogprobs | null;
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
  /** A LoRA adapter's base model (as vLLM's /v1/models shows adapters); absent for a model. */
  parent?: string;
}

/** `GET /v1/models`. */
export interface ModelList {
  object: "list";
  data: Model[];
}
