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
  type ChatCompletionChunkChoice,
  type ChatCompletionMessageToolCall,
  type ChatCompletionRequest,
  type ChatCompletionTokenLogprob,
  type Completion,
  type CompletionChoice,
  type CompletionLogprobs,
  type CompletionRequest,
  type CompletionUsage,
  chatCompletionRequestSchema,
  completionRequestSchema,
  embeddingsRequestSchema,
  type FinishReason,
  maxChoices,
  maxEmbeddingInputs,
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

/** How many generations a request asks for: n per chat; prompts × max(n, best_of) per completion. */
function generationsOf(body: GenerationRequest): number {
  if ("messages" in body) return body.n ?? 1;
  const prompts = typeof body.prompt === "string" || typeof body.prompt[0] === "number" ? 1 : body.prompt.length;
  return prompts * Math.max(body.n ?? 1, body.best_of ?? 1);
}

/**
 * Rate-limit estimate before the body is validated or tokenised: a token per 4 body bytes
 * plus the completion asked for, times the choices asked for.
 */
function rateTokens(rawBody: unknown, bytes: number): number {
  const asked = typeof rawBody === "object" && rawBody !== null ? (rawBody as Record<string, unknown>) : {};
  const maxTokens = [asked.max_completion_tokens, asked.max_tokens].find((x) => typeof x === "number" && x >= 0);
  const count = (x: unknown) => (typeof x === "number" && Number.isInteger(x) && x >= 1 ? Math.min(x, 128) : 1);
  const choices = Math.max(count(asked.n), count(asked.best_of));
  return (
    Math.ceil(bytes / 4) + choices * (typeof maxTokens === "number" && Number.isFinite(maxTokens) ? Math.ceil(maxTokens) : 128)
  );
}

/**
 * Characters a valid body may carry besides its prompts (the text step's allowance): the
 * model name, tools and their JSON schemas, response_format, stop sequences, metadata, the
 * keys. Generous: the step refuses what no model here could read, it is not a second byte limit.
 */
export const nonPromptTextChars = 64 * 1024;

/** Prompts of a raw (not yet validated) body: 1, or a list's length up to the most a valid body holds. */
const promptsOf = (value: unknown, most: number): number =>
  Array.isArray(value) ? Math.min(Math.max(value.length, 1), most) : 1;

/**
 * text step (pipeline.ts): the most characters of text a body may carry, from the model it
 * names, before the schema, the PII scan or the tokeniser read it. Only for a model that only
 * the local engine serves (a remote provider's context is not known here: its models get the
 * byte limit only): `prompts` × the model's prompt bound (its context × its longest token's
 * UTF-8 bytes, LocalLmProvider.maxPromptBytes; a character is at least one byte) plus
 * nonPromptTextChars. A body over it holds a prompt the model would refuse after tokenising.
 */
export function textLimit(
  platform: Platform,
  prompts: (body: Record<string, unknown>) => number,
): (rawBody: unknown) => number | undefined {
  const { router } = platform;
  const engines = [platform.local, platform.llamaCpp].filter((p) => p !== undefined);
  return (rawBody) => {
    if (engines.length === 0 || typeof rawBody !== "object" || rawBody === null) return undefined;
    const body = rawBody as Record<string, unknown>;
    const model = body.model;
    if (typeof model !== "string") return undefined;
    const local = engines.find((p) => p.models.includes(model));
    if (local === undefined) return undefined;
    if (router.providers.some((provider) => provider !== local && provider.models.includes(model))) return undefined;
    const perPrompt = local.maxPromptBytes(model);
    return perPrompt === undefined ? undefined : prompts(body) * perPrompt + nonPromptTextChars;
  };
}

/** The stream a whole cached response would have been (for a streamed request that hits it). */
function chunksOfWhole(endpoint: Endpoint, body: ChatCompletion | Completion): string[] {
  if (endpoint === "chat") {
    const c = body as ChatCompletion;
    const base = { id: c.id, object: "chat.completion.chunk" as const, created: c.created, model: c.model };
    const chunks: ChatCompletionChunk[] = [];
    const add = (choice: ChatCompletionChunkChoice) => chunks.push({ ...base, choices: [choice], usage: null });
    for (const { index, message, logprobs, finish_reason } of c.choices) {
      const call = message.tool_calls?.[0];
      if (call) {
        const { id, type, function: fn } = call;
        add({
          index,
          delta: {
            role: "assistant",
            content: null,
            tool_calls: [{ index: 0, id, type, function: { name: fn.name, arguments: "" } }],
          },
          finish_reason: null,
        });
        if (fn.arguments !== "")
          add({ index, delta: { tool_calls: [{ index: 0, function: { arguments: fn.arguments } }] }, finish_reason: null });
      } else {
        add({ index, delta: { role: "assistant", content: "" }, finish_reason: null });
        const content: ChatCompletionChunkChoice = { index, delta: { content: message.content ?? "" }, finish_reason: null };
        if (logprobs?.content?.length) content.logprobs = logprobs;
        add(content);
      }
      add({ index, delta: {}, finish_reason });
    }
    if (c.usage) chunks.push({ ...base, choices: [], usage: c.usage });
    return chunks.map((x) => JSON.stringify(x));
  }
  const c = body as Completion;
  const chunks: Completion[] = [{ ...c, choices: c.choices.map((ch) => ({ ...ch })), usage: null }];
  if (c.usage) chunks.push({ ...c, choices: [], usage: c.usage });
  return chunks.map((x) => JSON.stringify(x));
}

/** What the chunks of one choice add up to. */
interface ChoiceSum {
  text: string;
  finish: FinishReason | null;
  calls: ChatCompletionMessageToolCall[];
  chatLogprobs: ChatCompletionTokenLogprob[] | null;
  logprobs: CompletionLogprobs | null;
}

/** The whole response a stream adds up to (to cache a streamed answer for whole requests too). */
function wholeOfChunks(endpoint: Endpoint, payloads: readonly string[]): ChatCompletion | Completion | undefined {
  const parsed = payloads.map((p) => JSON.parse(p) as ChatCompletionChunk | Completion);
  const first = parsed[0];
  if (!first) return undefined;
  const sums = new Map<number, ChoiceSum>();
  let usage: CompletionUsage | undefined;
  for (const p of parsed) {
    if (p.usage) usage = p.usage;
    for (const choice of p.choices as (ChatCompletionChunkChoice | CompletionChoice)[]) {
      let sum = sums.get(choice.index);
      if (!sum) {
        sum = { text: "", finish: null, calls: [], chatLogprobs: null, logprobs: null };
        sums.set(choice.index, sum);
      }
      sum.finish = choice.finish_reason ?? sum.finish;
      if ("delta" in choice) {
        sum.text += choice.delta.content ?? "";
        for (const call of choice.delta.tool_calls ?? []) {
          sum.calls[call.index] ??= { id: "", type: "function", function: { name: "", arguments: "" } };
          const whole = sum.calls[call.index];
          if (call.id) whole.id = call.id;
          if (call.function?.name) whole.function.name = call.function.name;
          whole.function.arguments += call.function?.arguments ?? "";
        }
        if (choice.logprobs?.content) sum.chatLogprobs = [...(sum.chatLogprobs ?? []), ...choice.logprobs.content];
      } else {
        sum.text += choice.text;
        const part = choice.logprobs;
        if (part) {
          sum.logprobs ??= { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
          sum.logprobs.tokens.push(...part.tokens);
          sum.logprobs.token_logprobs.push(...part.token_logprobs);
          sum.logprobs.top_logprobs.push(...part.top_logprobs);
          sum.logprobs.text_offset.push(...part.text_offset);
        }
      }
    }
  }
  const base = { id: first.id, created: first.created, model: first.model };
  const ordered = [...sums].sort(([a], [b]) => a - b);
  if (endpoint === "chat") {
    return {
      ...base,
      object: "chat.completion",
      choices: ordered.map(([index, sum]) => ({
        index,
        message:
          sum.calls.length > 0
            ? { role: "assistant", content: sum.text === "" ? null : sum.text, refusal: null, tool_calls: sum.calls }
            : { role: "assistant", content: sum.text, refusal: null },
        logprobs: sum.chatLogprobs ? { content: sum.chatLogprobs, refusal: null } : null,
        finish_reason: sum.finish ?? "stop",
      })),
      usage,
    };
  }
  return {
    ...base,
    object: "text_completion",
    choices: ordered.map(([index, sum]) => ({
      text: sum.text,
      index,
      logprobs: sum.logprobs,
      finish_reason: sum.finish ?? "stop",
    })),
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
      (maxTokensOf(body) ?? unboundedCompletionTokens) * generationsOf(body),
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
    policy: {
      name: "chat",
      access: "tenant",
      classify: "scan",
      cache: "chat",
      // The messages are one prompt (the template joins them).
      maxTextChars: textLimit(p, () => 1),
      tokens: rateTokens,
      maxCostUsd: generationCost,
    },
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
      maxTextChars: textLimit(p, (body) => promptsOf(body.prompt, maxChoices)),
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
      // Each input at most the model's context, as the local engine refuses longer ones.
      maxTextChars: textLimit(p, (body) => promptsOf(body.input, maxEmbeddingInputs)),
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
