// The OpenAI-compatible routes: /v1/chat/completions, /v1/completions (whole or streamed as
// server-sent events), /v1/embeddings, /v1/models. Each handler runs the request through the
// platform in the order of DESIGN.md's data flow — tenant, schema, sensitivity, limits,
// cache, hybrid router — and only translates between HTTP and those calls.
//
// Headers on every answer: `x-aigc-route` (the router's decision), `x-aigc-cache`
// (hit | miss | bypass), `x-request-id`.

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type CachedEntry, type CacheEndpoint, cacheForcedByHeader, cacheKey, isCacheable } from "../cache/index.js";
import { errorBody, sseHeaders, toHttpError } from "../errors.js";
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type Completion,
  type CompletionUsage,
  chatCompletionRequestSchema,
  completionRequestSchema,
  embeddingsRequestSchema,
  parseBody,
} from "../openai/index.js";
import type { Platform } from "../platform.js";
import { classifyRequest, formatRouteHeader, type RouteDecision } from "../router/index.js";
import type { Tenant } from "../tenants/index.js";

type Endpoint = Exclude<CacheEndpoint, "embeddings">;

/** Rough token count before tokenising (rate limits are checked before any model runs). */
const estimateTokens = (body: unknown, maxTokens: number | undefined) =>
  Math.ceil(JSON.stringify(body).length / 4) + (maxTokens ?? 128);

/** Aborted when the client goes away before the answer is complete. */
function clientSignal(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  req.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
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

  async function record(
    tenant: Tenant,
    model: string,
    decision: RouteDecision | undefined,
    usage: { promptTokens: number; completionTokens: number },
    cached: boolean,
  ): Promise<void> {
    const provider = decision?.provider ?? "cache";
    const price = decision?.provider ? p.router.provider(decision.provider)?.price : undefined;
    const costUsd =
      cached || !price ? 0 : (usage.promptTokens * price.inputPerMTok + usage.completionTokens * price.outputPerMTok) / 1e6;
    p.metrics.tokens.inc({ kind: "prompt", model, provider }, usage.promptTokens);
    p.metrics.tokens.inc({ kind: "completion", model, provider }, usage.completionTokens);
    p.metrics.costUsd.inc({ tenant: tenant.id, provider }, costUsd);
    if (decision) p.metrics.routeDecisions.inc({ provider, zone: decision.zone ?? "none", reason: decision.reason });
    try {
      await p.tenants.ledger.record({
        tenant: tenant.id,
        model,
        provider,
        zone: decision?.zone ?? "cache",
        ...usage,
        costUsd,
        cached,
        at: Date.now(),
      });
    } catch (e) {
      app.log.warn(`ledger: ${(e as Error).message}`);
    }
  }

  function observe(
    endpoint: string,
    model: string,
    status: number,
    decision: RouteDecision | undefined,
    cache: string,
    t0: number,
  ) {
    p.metrics.requests.inc({
      endpoint,
      model,
      status: String(status),
      provider: decision?.provider ?? (cache === "hit" ? "cache" : "none"),
      zone: decision?.zone ?? "none",
      cache,
    });
    p.metrics.duration.observe({ endpoint, cache }, (performance.now() - t0) / 1000);
  }

  async function generation(endpoint: Endpoint, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const t0 = performance.now();
    const tenant = p.tenants.authenticate(req.headers.authorization);
    const body =
      endpoint === "chat" ? parseBody(chatCompletionRequestSchema, req.body) : parseBody(completionRequestSchema, req.body);
    const maxTokens = "messages" in body ? (body.max_completion_tokens ?? body.max_tokens) : body.max_tokens;
    const classification = classifyRequest(body, { endpoint: req.url });
    await p.tenants.checkRate(tenant, estimateTokens(body, maxTokens));
    await p.tenants.checkBudget(tenant);

    const cacheable =
      p.config.cache.enabled &&
      isCacheable(req.body, {
        sensitive: classification.sensitive,
        force: cacheForcedByHeader(req.headers["x-aigc-cache"]),
        endpoint,
      });
    const key = cacheable ? cacheKey({ tenant: tenant.id, model: body.model, endpoint, request: req.body }) : undefined;
    const stream = body.stream === true;
    const includeUsage = body.stream_options?.include_usage === true;
    void reply.header("x-request-id", req.id);

    const hit = key ? await p.cache.get(key) : undefined;
    if (hit) {
      void reply.header("x-aigc-cache", "hit").header("x-aigc-route", "provider=cache; zone=none; reason=cache-hit");
      const whole = hit.body as ChatCompletion | Completion;
      await record(tenant, body.model, undefined, usageOf(whole.usage), true);
      if (!stream) {
        observe(endpoint, body.model, 200, undefined, "hit", t0);
        return reply.send(whole);
      }
      const chunks = hit.chunks ?? chunksOfWhole(endpoint, whole);
      writeSse(reply, includeUsage ? chunks : chunks.filter((c) => !isUsageOnly(c)));
      observe(endpoint, body.model, 200, undefined, "hit", t0);
      return;
    }
    const cacheHeader = key ? "miss" : "bypass";
    const signal = clientSignal(req, reply);
    const routeOptions = {
      sensitive: classification.sensitive,
      reason: classification.reason,
      requestId: req.id,
      endpoint: req.url,
      signal,
    };

    if (!stream) {
      const routed = "messages" in body ? await p.router.chat(body, routeOptions) : await p.router.completion(body, routeOptions);
      void reply.header("x-aigc-cache", cacheHeader).header("x-aigc-route", formatRouteHeader(routed.decision));
      await record(tenant, body.model, routed.decision, usageOf(routed.result.usage), false);
      if (key) await p.cache.set(key, { body: routed.result, createdAt: Date.now() }, p.config.cache.ttlSeconds);
      observe(endpoint, body.model, 200, routed.decision, cacheHeader, t0);
      return reply.send(routed.result);
    }

    // Streamed: ask the provider for usage always (for the ledger); pass it on only if asked.
    const upstreamBody = { ...body, stream_options: { include_usage: true } };
    const routed =
      "messages" in upstreamBody
        ? await p.router.chatStream(upstreamBody, routeOptions)
        : await p.router.completionStream(upstreamBody, routeOptions);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...sseHeaders,
      "x-request-id": req.id,
      "x-aigc-cache": cacheHeader,
      "x-aigc-route": formatRouteHeader(routed.decision),
    });
    const payloads: string[] = [];
    let usage: CompletionUsage | null | undefined;
    let failed = false;
    try {
      for await (const chunk of routed.stream) {
        const payload = JSON.stringify(chunk);
        payloads.push(payload);
        if (chunk.usage) usage = chunk.usage;
        if (chunk.choices.length === 0 && !includeUsage) continue;
        raw.write(`data: ${payload}\n\n`);
      }
    } catch (e) {
      // Mid-stream failure: OpenAI's convention is an error event, then the stream ends.
      failed = true;
      if (!raw.destroyed) raw.write(`data: ${JSON.stringify(errorBody(toHttpError(e)))}\n\n`);
    }
    if (!raw.destroyed) raw.end("data: [DONE]\n\n");
    await record(tenant, body.model, routed.decision, usageOf(usage), false);
    // Only whole, successful streams are cached (never a stream the client cut short).
    if (key && !failed && !signal.aborted) {
      const whole = wholeOfChunks(endpoint, payloads);
      if (whole)
        await p.cache.set(
          key,
          { body: whole, chunks: payloads, createdAt: Date.now() } satisfies CachedEntry,
          p.config.cache.ttlSeconds,
        );
    }
    observe(endpoint, body.model, failed ? 502 : 200, routed.decision, cacheHeader, t0);
  }

  app.post("/v1/chat/completions", (req, reply) => generation("chat", req, reply));
  app.post("/v1/completions", (req, reply) => generation("completions", req, reply));

  app.post("/v1/embeddings", async (req, reply) => {
    const t0 = performance.now();
    const tenant = p.tenants.authenticate(req.headers.authorization);
    const body = parseBody(embeddingsRequestSchema, req.body);
    const classification = classifyRequest(body, { endpoint: req.url });
    await p.tenants.checkRate(tenant, estimateTokens(body, 0));
    await p.tenants.checkBudget(tenant);
    const cacheable =
      p.config.cache.enabled && isCacheable(req.body, { sensitive: classification.sensitive, endpoint: "embeddings" });
    const key = cacheable
      ? cacheKey({ tenant: tenant.id, model: body.model, endpoint: "embeddings", request: req.body })
      : undefined;
    void reply.header("x-request-id", req.id);
    const hit = key ? await p.cache.get(key) : undefined;
    if (hit) {
      void reply.header("x-aigc-cache", "hit").header("x-aigc-route", "provider=cache; zone=none; reason=cache-hit");
      observe("embeddings", body.model, 200, undefined, "hit", t0);
      return reply.send(hit.body);
    }
    const routed = await p.router.embeddings(body, {
      sensitive: classification.sensitive,
      reason: classification.reason,
      requestId: req.id,
      endpoint: req.url,
      signal: clientSignal(req, reply),
    });
    const cacheHeader = key ? "miss" : "bypass";
    void reply.header("x-aigc-cache", cacheHeader).header("x-aigc-route", formatRouteHeader(routed.decision));
    await record(
      tenant,
      body.model,
      routed.decision,
      { promptTokens: routed.result.usage.prompt_tokens, completionTokens: 0 },
      false,
    );
    if (key) await p.cache.set(key, { body: routed.result, createdAt: Date.now() }, p.config.cache.ttlSeconds);
    observe("embeddings", body.model, 200, routed.decision, cacheHeader, t0);
    return reply.send(routed.result);
  });

  app.get("/v1/models", async (req) => {
    p.tenants.authenticate(req.headers.authorization);
    return p.router.listModels();
  });
}

const isUsageOnly = (payload: string): boolean => {
  const chunk = JSON.parse(payload) as { choices?: unknown[] };
  return Array.isArray(chunk.choices) && chunk.choices.length === 0;
};

function writeSse(reply: FastifyReply, payloads: readonly string[]): void {
  reply.hijack();
  const raw = reply.raw;
  const headers: Record<string, string> = { ...sseHeaders };
  for (const [k, v] of Object.entries(reply.getHeaders())) if (typeof v === "string") headers[k] = v;
  raw.writeHead(200, headers);
  raw.end(`${payloads.map((x) => `data: ${x}\n\n`).join("")}data: [DONE]\n\n`);
}
