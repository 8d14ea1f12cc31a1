// What the router needs from a model provider, whether it is our local ONNX Runtime engine
// (private zone) or a remote OpenAI-compatible API (private vLLM, or public DeepSeek, …).

import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  Completion,
  CompletionRequest,
  CreateEmbeddingResponse,
  EmbeddingsRequest,
} from "../openai/index.js";

/** "private": sensitive data may go there. "public": only non-sensitive overflow and fallback. */
export type Zone = "private" | "public";

export interface ProviderContext {
  /** Aborted when the client goes away or the router gives up; providers must stop work and release slots. */
  readonly signal: AbortSignal;
}

export interface ProviderLoad {
  /** Requests waiting for a slot (the local engine: waiting for the batch scheduler). */
  readonly queued: number;
  /** Requests being served now. */
  readonly running: number;
  /** 95th percentile of recent request latencies, 0 before any request finished. */
  readonly p95LatencyMs: number;
}

export interface ProviderPrice {
  /** Price per million input (prompt) tokens, in the ledger's currency. */
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
}

export interface Provider {
  /** Unique, header-safe (`[A-Za-z0-9._-]`). */
  readonly name: string;
  readonly zone: Zone;
  /** Model names clients use for this provider (after any upstream name mapping). */
  readonly models: readonly string[];
  readonly price: ProviderPrice;
  chat(req: ChatCompletionRequest, ctx: ProviderContext): Promise<ChatCompletion>;
  /** Chunks in order; throws `ProviderError` on failure, also mid-stream. */
  chatStream(req: ChatCompletionRequest, ctx: ProviderContext): AsyncIterable<ChatCompletionChunk>;
  completion(req: CompletionRequest, ctx: ProviderContext): Promise<Completion>;
  completionStream(req: CompletionRequest, ctx: ProviderContext): AsyncIterable<Completion>;
  /** The base model of `model` when it is a LoRA adapter (`parent` in /v1/models); absent or undefined otherwise. */
  parentOf?(model: string): string | undefined;
  /** Absent when the provider serves no embedding model. */
  embeddings?(req: EmbeddingsRequest, ctx: ProviderContext): Promise<CreateEmbeddingResponse>;
  load(): ProviderLoad;
}

/** Machine-readable failure kinds; also what the audit log records (never upstream message text). */
export type ProviderErrorCode = "http_error" | "timeout" | "connection_failed" | "aborted" | "bad_response" | "stream_truncated";

/**
 * A provider call failed. `status` is the HTTP status to report (the upstream's, or 502/504
 * for transport failures); `retryable` says whether trying the same provider again may help
 * (5xx, 429, 408, timeouts, refused or reset connections).
 */
export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    readonly status: number,
    readonly code: ProviderErrorCode,
    readonly retryable: boolean,
    message: string,
    /** From an upstream `Retry-After` header, when present. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ProviderError";
  }

  /** A 4xx the request itself caused (bad field, longer than the context): no retry, and no strike against the provider. */
  get isClientError(): boolean {
    return this.code === "http_error" && (this.status === 400 || this.status === 413 || this.status === 422);
  }
}

/**
 * A provider refused the request itself, with an OpenAI error `code` of its own and the
 * parameter at fault (e.g. the local engine: `context_length_exceeded` on "messages",
 * `empty_prompt` on "prompt"); a 400 `http_error`, so the router treats it as a client error.
 */
export class RequestRejectedError extends ProviderError {
  constructor(
    provider: string,
    /** OpenAI's `error.code`. */
    readonly apiCode: string,
    /** OpenAI's `error.param`: the request field at fault, or null for the request as a whole. */
    readonly param: string | null,
    message: string,
  ) {
    super(provider, 400, "http_error", false, message);
    this.name = "RequestRejectedError";
  }
}

/** Whether an upstream HTTP status is worth retrying on the same provider. */
export const isRetryableStatus = (status: number): boolean => status >= 500 || status === 429 || status === 408;

/** Recent latencies in a ring buffer; `p95()` over the last `capacity` samples. */
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;
  /** p95 of the current samples; undefined after a new sample (the router asks on every request). */
  private cached: number | undefined;

  constructor(readonly capacity = 200) {}

  add(ms: number): void {
    if (this.samples.length < this.capacity) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.capacity;
    this.cached = undefined;
  }

  /** Nearest-rank 95th percentile; 0 when empty. */
  p95(): number {
    if (this.samples.length === 0) return 0;
    if (this.cached === undefined) {
      const sorted = [...this.samples].sort((a, b) => a - b);
      this.cached = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
    }
    return this.cached;
  }
}
