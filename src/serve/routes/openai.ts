// The OpenAI-compatible routes: /v1/chat/completions, /v1/completions (whole or streamed as
// server-sent events), /v1/embeddings, /v1/models. The pipeline (../pipeline.ts) has already
// authenticated, validated, rate-limited, classified, held the budget and made the cache key;
// the handlers only translate between HTTP and the cache and the hybrid router.
//
// Headers on every answer: `x-aigc-route` (the router's decision), `x-aigc-cache`
// (hit | miss | bypass), `x-request-id`.

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { CachedEntry, CacheEndpoint } from "../cache/index.js";
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type Completion,
  type CompletionRequest,
  type CompletionUsage,
  chatCompletionRequestSchema,
  completionRequestSchema,
  embeddingsRequestSchema,
} from "../openai/index.js";
import { defineRoute, type RequestContext, startSse } from "../pipeline.js";
import type { Platform } from "../platform.js";
import { formatRouteHeader, type RouteOptions } from "../router/index.js";

type Endpoint = Exclude<CacheEndpoint, "embeddings">;
type GenerationRequest = ChatCompletionRequest | CompletionRequest;

/**
 * Completion tokens a budget hold assumes when a request names no max_tokens. A provider
 * that writes more than this for such a request can overrun the budget by the difference.
 */
export const unboundedCompletionTokens = 4096;

const maxTokensOf = (body: GenerationRequest): number | undefined =>
  "messages" in body ? (body.max_completion_tokens ?? body.max_tokens) : body.max_tokens;

/**
 * Rate-limit estimate before the body is validated or tokenised: a token per 4 body bytes
 * plus the completion asked for.
 */
function rateTokens(rawBody: unknown, bytes: number): number {
  const asked = typeof rawBody === "object" && rawBody !== null ? (rawBody as Record<string, unknown>) : {};
  const maxTokens = [asked.max_completion_tokens, asked.max_tokens].find((x) => typeof x === "number" && x >= 0);
  return Math.ceil(bytes / 4) + (typeof maxTokens === "number" && Number.isFinite(maxTokens) ? Math.ceil(maxTokens) : 128);
}

/** The stream a whole cached response would have been (for a streamed request that hits it). */
function chunksOfWhole(endpoint: Endpoint, body: ChatCompletion | Completion): string[] {
  if (endpoint === "chat") {
    const c = body as ChatCompletion;
    const base = { id: c.id, object: "chat.completion.chunk" as const, created: c.created, model: c.model };
    const choice = c.choices[0];
    const chunks: ChatCompletionChunk[] = [
      { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }], usage: null },
      { ...base, choices: [{ index: 0, delta: { content: choice.message.content ?? "" }, finish_reason: null }], usage: null },
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: choice.finish_reason }], usage: null },
    ];
    if (c.usage) chunks.push({ ...base, choices: [], usage: c.usage });
    return chunks.map((x) => JSON.stringify(x));
  }
  const c = body as Completion;
  const chunks: Completion[] = [{ ...c, choices: c.choices.map((ch) => ({ ...ch })), usage: null }];
  if (c.usage) chunks.push({ ...c, choices: [], usage: c.usage });
  return chunks.map((x) => JSON.stringify(x));
}

/** The whole response a stream adds up to (to cache a streamed answer for whole requests too). */
function wholeOfChunks(endpoint: Endpoint, payloads: readonly string[]): ChatCompletion | Completion | undefined {
  const parsed = payloads.map((p) => JSON.parse(p) as ChatCompletionChunk | Completion);
  const first = parsed[0];
  if (!first) return undefined;
  let text = "";
  let finish: string | null = null;
  let usage: CompletionUsage | undefined;
  for (const p of parsed) {
    if (p.usage) usage = p.usage;
    const choice = p.choices[0];
    if (!choice) continue;
    if ("delta" in choice) text += choice.delta.content ?? "";
    else text += choice.text;
    finish = choice.finish_reason ?? finish;
  }
  const base = { id: first.id, created: first.created, model: first.model };
  const finishReason = (finish ?? "stop") as ChatCompletion["choices"][number]["finish_reason"];
  if (endpoint === "chat") {
    return {
      ...base,
      object: "chat.completion",
      choices: [
        { index: 0, message: { role: "assistant", content: text, refusal: null }, logprobs: null, finish_reason: finishReason },
      ],
      usage,
    };
  }
  return {
    ...base,
    object: "text_completion",
    choices: [{ text, index: 0, logprobs: null, finish_reason: finishReason }],
    usage,
  };
}

const usageOf = (u: CompletionUsage | null | undefined) => ({
  promptTokens: u?.prompt_tokens ?? 0,
  completionTokens: u?.completion_tokens ?? 0,
});

export async function openAiRoutes(app: FastifyInstance, opts: { platform: Platform }): Promise<void> {
  const p = opts.platform;

  /**
   * The most a request can cost on any provider serving its model: byte-level tokenisers give
   * at most one prompt token per body byte (plus a few per chat turn for the template).
   */
  const maxCostUsd = (model: string, promptTokens: number, completionTokens: number): number => {
    let most = 0;
    for (const provider of p.router.providers) {
      if (!provider.models.includes(model)) continue;
      const { inputPerMTok, outputPerMTok } = provider.price;
      most = Math.max(most, (promptTokens * inputPerMTok + completionTokens * outputPerMTok) / 1e6);
    }
    return most;
  };
  const generationCost = (body: GenerationRequest, bytes: number) =>
    maxCostUsd(
      body.model,
      bytes + ("messages" in body ? 8 * body.messages.length : 0),
      maxTokensOf(body) ?? unboundedCompletionTokens,
    );

  const routeOptions = (ctx: RequestContext<unknown>, req: FastifyRequest): RouteOptions => ({
    sensitive: ctx.classification.sensitive,
    reason: ctx.classification.reason,
    requestId: req.id,
    endpoint: req.url,
    signal: ctx.signal,
  });

  async function generation(
    endpoint: Endpoint,
    ctx: RequestContext<GenerationRequest>,
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<unknown> {
    const { body, cacheKey: key, served } = ctx;
    const stream = body.stream === true;
    const includeUsage = body.stream_options?.include_usage === true;

    const hit = key ? await p.cache.get(key) : undefined;
    if (hit) {
      Object.assign(served, { cache: "hit", ...usageOf((hit.body as ChatCompletion | Completion).usage) });
      void reply.header("x-aigc-cache", "hit").header("x-aigc-route", "provider=cache; zone=none; reason=cache-hit");
      const whole = hit.body as ChatCompletion | Completion;
      if (!stream) return whole;
      const sse = startSse(p, req, reply);
      for (const chunk of hit.chunks ?? chunksOfWhole(endpoint, whole)) if (includeUsage || !isUsageOnly(chunk)) sse.send(chunk);
      return sse.end();
    }
    served.cache = key ? "miss" : "bypass";
    void reply.header("x-aigc-cache", served.cache);
    const options = routeOptions(ctx, req);

    if (!stream) {
      const routed = "messages" in body ? await p.router.chat(body, options) : await p.router.completion(body, options);
      Object.assign(served, { decision: routed.decision, ...usageOf(routed.result.usage) });
      void reply.header("x-aigc-route", formatRouteHeader(routed.decision));
      if (key) await p.cache.set(key, { body: routed.result, createdAt: Date.now() }, p.config.cache.ttlSeconds);
      return routed.result;
    }

    // Streamed: ask the provider for usage always (for the ledger); pass it on only if asked.
    const upstreamBody = { ...body, stream_options: { include_usage: true } };
    const routed =
      "messages" in upstreamBody
        ? await p.router.chatStream(upstreamBody, options)
        : await p.router.completionStream(upstreamBody, options);
    served.decision = routed.decision;
    const sse = startSse(p, req, reply, routed.decision);
    const payloads: string[] = [];
    let failed = false;
    try {
      for await (const chunk of routed.stream) {
        const payload = JSON.stringify(chunk);
        payloads.push(payload);
        if (chunk.usage) Object.assign(served, usageOf(chunk.usage));
        if (chunk.choices.length === 0 && !includeUsage) continue;
        sse.send(payload);
      }
    } catch (e) {
      // Mid-stream failure: OpenAI's convention is an error event, then the stream ends.
      failed = true;
      sse.fail(e);
    }
    // Only whole, successful streams are cached (never a stream the client cut short).
    if (key && !failed && !ctx.signal.aborted) {
      const whole = wholeOfChunks(endpoint, payloads);
      if (whole)
        await p.cache.set(
          key,
          { body: whole, chunks: payloads, createdAt: Date.now() } satisfies CachedEntry,
          p.config.cache.ttlSeconds,
        );
    }
    return sse.end();
  }

  defineRoute(app, {
    method: "POST",
    url: "/v1/chat/completions",
    body: chatCompletionRequestSchema,
    policy: { name: "chat", access: "tenant", classify: "scan", cache: "chat", tokens: rateTokens, maxCostUsd: generationCost },
    handler: (ctx, req, reply) => generation("chat", ctx, req, reply),
  });
  defineRoute(app, {
    method: "POST",
    url: "/v1/completions",
    body: completionRequestSchema,
    policy: {
      name: "completions",
      access: "tenant",
      classify: "scan",
      cache: "completions",
      tokens: rateTokens,
      maxCostUsd: generationCost,
    },
    handler: (ctx, req, reply) => generation("completions", ctx, req, reply),
  });

  defineRoute(app, {
    method: "POST",
    url: "/v1/embeddings",
    body: embeddingsRequestSchema,
    policy: {
      name: "embeddings",
      access: "tenant",
      classify: "scan",
      cache: "embeddings",
      maxCostUsd: (body, bytes) => maxCostUsd(body.model, bytes, 0),
    },
    handler: async (ctx, req, reply) => {
      const { body, cacheKey: key, served } = ctx;
      const hit = key ? await p.cache.get(key) : undefined;
      if (hit) {
        served.cache = "hit";
        void reply.header("x-aigc-cache", "hit").header("x-aigc-route", "provider=cache; zone=none; reason=cache-hit");
        return hit.body;
      }
      const routed = await p.router.embeddings(body, routeOptions(ctx, req));
      Object.assign(served, {
        cache: key ? "miss" : "bypass",
        decision: routed.decision,
        promptTokens: routed.result.usage.prompt_tokens,
      });
      void reply.header("x-aigc-cache", served.cache ?? "bypass").header("x-aigc-route", formatRouteHeader(routed.decision));
      if (key) await p.cache.set(key, { body: routed.result, createdAt: Date.now() }, p.config.cache.ttlSeconds);
      return routed.result;
    },
  });

  defineRoute(app, {
    method: "GET",
    url: "/v1/models",
    policy: { name: "models", access: "tenant", classify: "none" },
    handler: async () => p.router.listModels(),
  });
}

const isUsageOnly = (payload: string): boolean => {
  const chunk = JSON.parse(payload) as { choices?: unknown[] };
  return Array.isArray(chunk.choices) && chunk.choices.length === 0;
};
