// The hybrid-cloud router: sensitive requests stay in the private zone whatever happens;
// non-sensitive ones go private first and overflow to the public zone when the private
// provider is busy. Retries with backoff on retryable errors, falls back to the next
// provider, keeps a circuit breaker per provider, and records every decision.
//
// Everything it throws is an `HttpError` (400/404/503/…), ready for the error handler.

import { HttpError } from "../errors.js";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  Completion,
  CompletionRequest,
  CreateEmbeddingResponse,
  EmbeddingsRequest,
  ModelList,
} from "../openai/index.js";
import { ParameterError } from "../openai/index.js";
import { type Provider, type ProviderContext, ProviderError, RequestRejectedError } from "../providers/index.js";
import type { AuditLog } from "./audit.js";
import { CircuitBreaker, type CircuitState } from "./breaker.js";
import { type RouterConfig, type RouterConfigInput, routerConfigSchema } from "./config.js";
import type { RouteAttempt, RouteDecision, RouteReason } from "./decision.js";

export interface RouteOptions {
  /** From `classifyRequest` (or stricter): true keeps the request in the private zone. */
  readonly sensitive: boolean;
  /** Why it is sensitive ("pii:email", "endpoint:/v1/medical"); goes to the audit log, so never prompt text. */
  readonly reason?: string;
  readonly requestId?: string;
  readonly endpoint?: string;
  /** The client's signal: aborting stops retries and upstream work. */
  readonly signal?: AbortSignal;
}

export interface Routed<T> {
  readonly result: T;
  readonly decision: RouteDecision;
}

/** A stream committed to one provider: its first chunk has arrived, it will not switch. */
export interface RoutedStream<T> {
  readonly stream: AsyncIterable<T>;
  readonly decision: RouteDecision;
}

/** One routable operation: the model it needs and how to run it on a provider. */
export interface RouteCall<T> {
  readonly model: string;
  run(provider: Provider, ctx: ProviderContext): T;
  /** Extra capability check (e.g. serves embeddings); default: every provider listing the model. */
  supports?(provider: Provider): boolean;
}

export interface HybridRouterOptions {
  /** In order of preference within each zone. */
  readonly providers: readonly Provider[];
  readonly config?: RouterConfigInput;
  readonly audit?: AuditLog;
  /** Clock for the circuit breakers (tests may step it). */
  readonly now?: () => number;
  /** Jitter source for backoff, in [0, 1). */
  readonly random?: () => number;
}

interface Plan {
  readonly order: readonly Provider[];
  /** The reason if the first provider in `order` answers. */
  readonly firstReason: RouteReason;
}

interface Dispatched<T> {
  readonly value: T;
  readonly decision: RouteDecision;
  readonly breaker: CircuitBreaker;
}

const neverAborted = new AbortController().signal;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Anything a provider throws, as a ProviderError (a provider's own HttpError keeps its status). */
function asProviderError(provider: Provider, e: unknown): ProviderError {
  if (e instanceof ProviderError) return e;
  if (e instanceof HttpError)
    return new ProviderError(provider.name, e.status, "http_error", e.status >= 500 && e.status !== 501, e.message);
  const message = e instanceof Error ? e.message : String(e);
  return new ProviderError(provider.name, 500, "http_error", false, `provider '${provider.name}' failed: ${message}`);
}

export class HybridRouter {
  readonly config: RouterConfig;
  readonly providers: readonly Provider[];
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly audit: AuditLog | undefined;
  private readonly random: () => number;

  constructor(opts: HybridRouterOptions) {
    this.config = routerConfigSchema.parse(opts.config ?? {});
    this.providers = opts.providers;
    this.audit = opts.audit;
    this.random = opts.random ?? Math.random;
    for (const p of opts.providers) {
      if (this.breakers.has(p.name)) throw new Error(`two providers are named '${p.name}'; names must be unique`);
      this.breakers.set(p.name, new CircuitBreaker(this.config.breaker, opts.now));
    }
  }

  chat(req: ChatCompletionRequest, opts: RouteOptions): Promise<Routed<ChatCompletion>> {
    return this.route({ model: req.model, run: (p, ctx) => p.chat(req, ctx) }, opts);
  }

  chatStream(req: ChatCompletionRequest, opts: RouteOptions): Promise<RoutedStream<ChatCompletionChunk>> {
    return this.routeStream({ model: req.model, run: (p, ctx) => p.chatStream(req, ctx) }, opts);
  }

  completion(req: CompletionRequest, opts: RouteOptions): Promise<Routed<Completion>> {
    return this.route({ model: req.model, run: (p, ctx) => p.completion(req, ctx) }, opts);
  }

  completionStream(req: CompletionRequest, opts: RouteOptions): Promise<RoutedStream<Completion>> {
    return this.routeStream({ model: req.model, run: (p, ctx) => p.completionStream(req, ctx) }, opts);
  }

  embeddings(req: EmbeddingsRequest, opts: RouteOptions): Promise<Routed<CreateEmbeddingResponse>> {
    return this.route(
      {
        model: req.model,
        supports: (p) => p.embeddings !== undefined,
        run: (p, ctx) => {
          if (!p.embeddings)
            throw new ProviderError(p.name, 404, "http_error", false, `provider '${p.name}' serves no embeddings`);
          return p.embeddings(req, ctx);
        },
      },
      opts,
    );
  }

  /** Run a whole (non-streaming) call on the chosen provider. */
  async route<T>(call: RouteCall<Promise<T>>, opts: RouteOptions): Promise<Routed<T>> {
    const { value, decision, breaker } = await this.dispatch(call.model, opts, false, call.supports, (p, ctx) =>
      call.run(p, ctx),
    );
    breaker.success();
    return { result: value, decision };
  }

  /**
   * Start a stream: providers are tried (with retries and fallback) until one yields its
   * first chunk; from then on the stream stays with that provider. A failure after that is
   * thrown from the iterator as an `HttpError` 502.
   */
  async routeStream<T>(call: RouteCall<AsyncIterable<T>>, opts: RouteOptions): Promise<RoutedStream<T>> {
    const { value, decision, breaker } = await this.dispatch(call.model, opts, true, call.supports, async (p, ctx) => {
      const iterator = call.run(p, ctx)[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done) throw new ProviderError(p.name, 502, "stream_truncated", true, `provider '${p.name}' sent an empty stream`);
      return { iterator, first: first.value };
    });
    return { decision, stream: relay(value.iterator, value.first, breaker) };
  }

  /** Circuit state of every provider. */
  circuits(): Record<string, CircuitState> {
    return Object.fromEntries([...this.breakers].map(([name, b]) => [name, b.state]));
  }

  provider(name: string): Provider | undefined {
    return this.providers.find((p) => p.name === name);
  }

  /**
   * `GET /v1/models`: every model some provider serves, owned by the first (preferred) one; a
   * LoRA adapter with its base model as `parent` (as vLLM lists them).
   */
  listModels(created = Math.floor(Date.now() / 1000)): ModelList {
    const seen = new Map<string, Provider>();
    for (const p of [...this.providers].sort((a, b) => (a.zone === b.zone ? 0 : a.zone === "private" ? -1 : 1))) {
      for (const m of p.models) if (!seen.has(m)) seen.set(m, p);
    }
    return {
      object: "list",
      data: [...seen].map(([id, p]) => {
        const parent = p.parentOf?.(id);
        return {
          id,
          object: "model" as const,
          created,
          owned_by: p.zone === "private" ? "aigc-studio" : p.name,
          ...(parent === undefined ? {} : { parent }),
        };
      }),
    };
  }

  private overloaded(provider: Provider): boolean {
    const load = provider.load();
    return load.queued >= this.config.overflow.queueDepth || load.p95LatencyMs >= this.config.overflow.p95LatencyMs;
  }

  private plan(model: string, sensitive: boolean, supports: ((p: Provider) => boolean) | undefined): Plan {
    const serving = this.providers.filter((p) => p.models.includes(model) && (supports?.(p) ?? true));
    if (serving.length === 0) {
      const known = this.listModels(0).data.map((m) => m.id);
      throw new HttpError(
        404,
        "model_not_found",
        `The model '${model}' does not exist here; available models: ${known.join(", ") || "none"}.`,
      );
    }
    const privateZone = serving.filter((p) => p.zone === "private");
    const publicZone = serving.filter((p) => p.zone === "public");
    if (sensitive) {
      if (privateZone.length === 0) {
        throw new HttpError(
          503,
          "private_zone_unavailable",
          `This request is sensitive and model '${model}' is only served in the public zone; sensitive data never leaves the private zone. Use a model served locally.`,
        );
      }
      return { order: privateZone, firstReason: "sensitive" };
    }
    const withCapacity = privateZone.filter((p) => !this.overloaded(p));
    const busy = privateZone.filter((p) => !withCapacity.includes(p));
    if (privateZone.length > 0 && withCapacity.length === 0 && publicZone.length > 0) {
      return { order: [...publicZone, ...busy], firstReason: "overflow" };
    }
    return { order: [...withCapacity, ...busy, ...publicZone], firstReason: "primary" };
  }

  private backoffMs(retry: number, retryAfterMs: number | undefined): number {
    const { backoffMs, maxBackoffMs } = this.config.retries;
    const exp = Math.min(maxBackoffMs, backoffMs * 2 ** retry);
    // Equal jitter: half fixed, half random, so retries from many requests spread out.
    const delay = exp / 2 + (this.random() * exp) / 2;
    return retryAfterMs === undefined ? delay : Math.max(delay, Math.min(retryAfterMs, maxBackoffMs));
  }

  private decide(
    opts: RouteOptions,
    model: string,
    stream: boolean,
    started: number,
    at: string,
    attempts: RouteAttempt[],
    answered: Provider | undefined,
    reason: RouteReason,
  ): RouteDecision {
    const decision: RouteDecision = {
      kind: "route",
      at,
      requestId: opts.requestId,
      model,
      // The path only: a query string could carry user data.
      endpoint: opts.endpoint?.split("?")[0],
      stream,
      provider: answered?.name ?? null,
      zone: answered?.zone ?? null,
      reason,
      sensitive: opts.sensitive,
      sensitiveReason: opts.sensitive ? opts.reason : undefined,
      attempts,
      circuits: this.circuits(),
      latencyMs: Math.round(performance.now() - started),
    };
    this.audit?.record(decision);
    return decision;
  }

  private async dispatch<T>(
    model: string,
    opts: RouteOptions,
    stream: boolean,
    supports: ((p: Provider) => boolean) | undefined,
    start: (p: Provider, ctx: ProviderContext) => Promise<T>,
  ): Promise<Dispatched<T>> {
    const started = performance.now();
    const at = new Date().toISOString();
    const signal = opts.signal ?? neverAborted;
    const ctx: ProviderContext = { signal };
    const { order, firstReason } = this.plan(model, opts.sensitive, supports);
    const attempts: RouteAttempt[] = [];
    let clientError: ProviderError | undefined;
    const reasonFor = (p: Provider): RouteReason => (p === order[0] ? firstReason : opts.sensitive ? "sensitive" : "fallback");

    for (const p of order) {
      const breaker = this.breakers.get(p.name)!;
      for (let retry = 0; ; retry++) {
        if (!breaker.tryAcquire()) {
          attempts.push({ provider: p.name, zone: p.zone, outcome: "circuit-open", ms: 0 });
          break;
        }
        const t0 = performance.now();
        try {
          const value = await start(p, ctx);
          attempts.push({ provider: p.name, zone: p.zone, outcome: "ok", ms: Math.round(performance.now() - t0) });
          return { value, breaker, decision: this.decide(opts, model, stream, started, at, attempts, p, reasonFor(p)) };
        } catch (e) {
          const err = asProviderError(p, e);
          const ms = Math.round(performance.now() - t0);
          if (signal.aborted || err.code === "aborted") {
            breaker.cancel();
            throw new HttpError(499, "client_closed_request", "the client closed the request");
          }
          attempts.push({ provider: p.name, zone: p.zone, outcome: "error", status: err.status, error: err.code, ms });
          if (err.isClientError) {
            // The provider is healthy but refused this request (e.g. longer than its context):
            // no retry here, no strike against it; another provider may have larger limits.
            breaker.success();
            clientError = err;
            break;
          }
          breaker.failure();
          if (!err.retryable || retry >= this.config.retries.maxRetries) break;
          await sleep(this.backoffMs(retry, err.retryAfterMs), signal);
          if (signal.aborted) throw new HttpError(499, "client_closed_request", "the client closed the request");
        }
      }
    }

    this.decide(opts, model, stream, started, at, attempts, undefined, "unavailable");
    // Refused as invalid by a provider and served by none: the client's request is what must change.
    // The local engine refuses with OpenAI's own codes (context_length_exceeded, …); a remote
    // provider's 4xx stays upstream_rejected_request.
    if (clientError instanceof RequestRejectedError)
      throw new ParameterError(clientError.apiCode, clientError.message, clientError.param);
    if (clientError) throw new HttpError(clientError.status, "upstream_rejected_request", clientError.message);
    const tried = attempts.map((a) => `${a.provider}: ${a.outcome === "circuit-open" ? "circuit open" : (a.status ?? a.error)}`);
    const summary = [...new Set(tried)].join(", ");
    if (opts.sensitive) {
      throw new HttpError(
        503,
        "private_zone_unavailable",
        `This request is sensitive and no private-zone provider could serve it (${summary}); sensitive data is never sent to the public zone. Retry later.`,
      );
    }
    throw new HttpError(503, "no_provider_available", `No provider could serve model '${model}' (${summary}). Retry later.`);
  }
}

/** Yield the first chunk, then the rest; settle the breaker once, when the stream ends. */
async function* relay<T>(iterator: AsyncIterator<T>, first: T, breaker: CircuitBreaker): AsyncGenerator<T> {
  let settled = false;
  try {
    yield first;
    for (;;) {
      let next: IteratorResult<T>;
      try {
        next = await iterator.next();
      } catch (e) {
        settled = true;
        const err = e instanceof ProviderError ? e : undefined;
        if (err?.code === "aborted") {
          breaker.cancel();
          throw new HttpError(499, "client_closed_request", "the client closed the request");
        }
        breaker.failure();
        throw new HttpError(
          502,
          "stream_failed",
          err?.message ?? `the stream failed: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
      if (next.done) break;
      yield next.value;
    }
  } finally {
    if (!settled) {
      // Finished, or the consumer stopped early: either way the provider was serving fine.
      breaker.success();
      await iterator.return?.();
    }
  }
}
