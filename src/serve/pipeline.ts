// The one request pipeline. Every route is declared with `defineRoute` and a policy; the
// steps below are attached to every route by an `onRoute` hook, and a route registered
// without a policy makes the server refuse to start. So no route, and no field of a body,
// can skip a step. The steps, cheap ones first:
//
//   auth      API key → tenant, or the admin key, before the body is read (401 / 403)
//   size      the declared Content-Length against the route's body limit, before a byte is
//             read (413; every body, multipart too); a chunked body is cut off by fastify's
//             parser once it grows past the limit (413), never buffered whole. A client
//             waiting on `Expect: 100-continue` is told to send its body only after this step
//   text      characters of text in the parsed body against the route's `maxTextChars`,
//             before the schema, the PII scan or any tokeniser reads them (413)
//   limits    per-minute requests and tokens of the tenant (429)
//   schema    the body parsed by the route's zod schema (400 naming the field)
//   classify  PHI/PII in every string of the parsed body, or sensitive by the route's policy
//   budget    the most the request can cost, held against the tenant's budget (402)
//   cache     a tenant-namespaced key, only for non-sensitive cacheable requests
//   handler   translates HTTP into a call on the platform and says what served it
//   ledger, audit, metrics   once per request, whatever its outcome (onSend, or a stream's end)
//
// Public routes (pages, static files, /health) pass size and metrics only: they carry no
// user data and cost nothing.

import type { FastifyInstance, FastifyReply, FastifyRequest, RequestPayload, RouteOptions } from "fastify";
import type { z } from "zod";
import { type CacheEndpoint, type CacheKeyParts, cacheForcedByHeader, cacheKey, isCacheable } from "./cache/index.js";
import { bodyTooLarge, errorBody, sseHeaders, textTooLong, toHttpError } from "./errors.js";
import type { Gate } from "./gate.js";
import { parseBody } from "./openai/index.js";
import { type Classification, classifyRequest, formatRouteHeader, type RouteDecision } from "./router/index.js";
import type { BudgetHold, Tenant } from "./tenants/index.js";

/** Who may call a route: anyone (pages, /health), a tenant's API key, or an admin key. */
export type Access = "public" | "tenant" | "admin";

export interface RoutePolicy<Body> {
  /** Short name for metrics and logs, e.g. "chat". */
  readonly name: string;
  readonly access: Access;
  /**
   * "scan": every string of the parsed body is classified for PHI/PII; "sensitive": sensitive
   * by definition (medical records, ciphertexts: private zone, never cached); "none": the
   * route carries no user data (GET of a list).
   */
  readonly classify: "scan" | "sensitive" | "none";
  /** Cache namespace of a route whose answers may be cached; absent: never cached. */
  readonly cache?: CacheEndpoint;
  /** Largest body in bytes (default: the server's). */
  readonly bodyLimit?: number;
  /**
   * Most characters of text (every string of the JSON body, keys included) the route reads;
   * absent: only the byte limit applies. A function gives the limit of one body from the parsed,
   * not yet validated body (e.g. by the model it names), undefined for none. Counting is one
   * pass over the parsed body, far cheaper than the PII scan (~80 ms per 900k characters here)
   * or a tokeniser it protects.
   */
  readonly maxTextChars?: number | ((rawBody: unknown) => number | undefined);
  /** The model named in the ledger, metrics and cache key (default: `body.model`, else the route name). */
  readonly model?: (body: Body) => string;
  /** Tokens counted against the per-minute limit, from the body before validation (default: body bytes / 4). */
  readonly tokens?: (rawBody: unknown, bodyBytes: number) => number;
  /** The most the request can cost in USD, held against the budget before the handler runs (default 0). */
  readonly maxCostUsd?: (body: Body, bodyBytes: number) => number;
}

/** What the handler reports about how the request was served (for the ledger, audit and metrics). */
export interface Served {
  decision?: RouteDecision;
  promptTokens?: number;
  completionTokens?: number;
  /** "hit": answered from the cache; "miss": stored after; "bypass": not cacheable. */
  cache?: "hit" | "miss" | "bypass";
}

/** Everything the pipeline learned before the handler, and what the handler reports back. */
export interface RequestContext<Body> {
  readonly body: Body;
  /** Undefined on public and admin routes. */
  readonly tenant: Tenant | undefined;
  readonly model: string;
  readonly classification: Classification;
  /** Set only when the answer may be cached (non-sensitive, cacheable, cache on). */
  readonly cacheKey: string | undefined;
  readonly served: Served;
  /** The client's signal: aborted when it goes away before the answer is complete. */
  readonly signal: AbortSignal;
}

export interface RouteSpec<Schema extends z.ZodType> {
  readonly method: "GET" | "POST" | "DELETE";
  readonly url: string;
  readonly policy: RoutePolicy<z.output<Schema>>;
  /** The JSON body's schema; absent: the body is not parsed here (GET, multipart). */
  readonly body?: Schema;
  readonly handler: (ctx: RequestContext<z.output<Schema>>, req: FastifyRequest, reply: FastifyReply) => unknown;
}

interface RequestState {
  readonly policy: RoutePolicy<unknown>;
  readonly started: number;
  tenant?: Tenant;
  hold?: BudgetHold;
  context?: RequestContext<unknown>;
  finished: boolean;
}

const state = Symbol("aigc.pipeline");
type WithState = FastifyRequest & { [state]?: RequestState };

declare module "fastify" {
  interface FastifyContextConfig {
    /** Set by defineRoute; a route without one is refused at startup. */
    aigcPolicy?: RoutePolicy<unknown>;
    /** The route's body schema, parsed by the pipeline's schema step. */
    aigcBody?: z.ZodType;
  }
}

/** Declares a route with its policy; the pipeline's steps run around its handler. */
export function defineRoute<Schema extends z.ZodType>(app: FastifyInstance, spec: RouteSpec<Schema>): void {
  app.route({
    method: spec.method,
    url: spec.url,
    bodyLimit: spec.policy.bodyLimit,
    config: { aigcPolicy: spec.policy as RoutePolicy<unknown>, aigcBody: spec.body },
    handler: (req, reply) => {
      const context = (req as WithState)[state]?.context;
      if (!context) throw new Error(`pipeline: ${spec.url} ran without its context`);
      return spec.handler(context as RequestContext<z.output<Schema>>, req, reply);
    },
  });
}

/** Public routes as a list, for the home page and the route-enumeration test. */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  readonly policy: RoutePolicy<unknown>;
}

/**
 * Installs the pipeline on the root instance; call before any route is registered. Returns
 * the list of routes registered from then on (filled as they register).
 */
export function installPipeline(app: FastifyInstance, gate: Gate): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  app.addHook("onRoute", (route: RouteOptions) => {
    const policy = route.config?.aigcPolicy;
    if (!policy)
      throw new Error(
        `route ${String(route.method)} ${route.url} has no policy: declare it with defineRoute() so it passes the request pipeline`,
      );
    if (policy.access === "public" && route.method !== "GET" && route.method !== "HEAD")
      throw new Error(`route ${String(route.method)} ${route.url}: only GET routes may be public`);
    const schema = route.config?.aigcBody;
    routes.push({ method: String(route.method), url: route.url, policy });
    route.onRequest = [
      ...asArray(route.onRequest),
      (req, reply) => authenticate(gate, policy, req, reply),
      async (req) => refuseDeclaredOversize(req),
    ];
    route.preParsing = [
      ...asArray(route.preParsing),
      async (req: FastifyRequest, reply: FastifyReply, payload: RequestPayload) => {
        inviteBody(req, reply);
        return payload;
      },
    ];
    const maxTextChars = policy.maxTextChars;
    if (maxTextChars !== undefined)
      route.preValidation = [...asArray(route.preValidation), async (req) => refuseLongText(req, maxTextChars)];
    route.preHandler = [...asArray(route.preHandler), (req, reply) => admit(gate, policy, schema, req, reply)];
    route.onSend = [
      ...asArray(route.onSend),
      async (req, reply, payload) => {
        await finish(gate, req, reply.statusCode);
        return payload;
      },
    ];
  });
  return routes;
}

const asArray = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

const bodyBytes = (req: FastifyRequest): number => Number(req.headers["content-length"] ?? 0) || 0;

/** The declared Content-Length; undefined when absent (chunked) or not a number. */
export function declaredLength(req: FastifyRequest): number | undefined {
  const header = req.headers["content-length"];
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** "POST /v1/chat/completions", for messages. */
export const routeName = (req: FastifyRequest): string => `${req.method} ${req.routeOptions.url ?? req.url.split("?")[0]}`;

/**
 * size: a declared length over the limit is refused before a byte is read. fastify's JSON
 * parser checks this too, but not multipart (its parser streams req.raw), nor GET and HEAD,
 * whose bodies fastify never parses and Node would otherwise read to the end to discard.
 */
function refuseDeclaredOversize(req: FastifyRequest): void {
  const contentLength = declaredLength(req);
  const bodyLimit = req.routeOptions.bodyLimit;
  if (contentLength !== undefined && contentLength > bodyLimit)
    throw bodyTooLarge({ route: routeName(req), bodyLimit, contentLength });
}

/** A client waiting on `Expect: 100-continue` is told to send its body: it passed auth and the size check. */
function inviteBody(req: FastifyRequest, reply: FastifyReply): void {
  if (req.headers.expect?.toLowerCase() === "100-continue" && !reply.raw.headersSent) reply.raw.writeContinue();
}

/** text: more characters than the route reads, counted over the parsed body before anything reads them. */
function refuseLongText(req: FastifyRequest, limit: NonNullable<RoutePolicy<unknown>["maxTextChars"]>): void {
  const maxChars = typeof limit === "number" ? limit : limit(req.body);
  if (maxChars !== undefined && textCharsOver(req.body, maxChars)) throw textTooLong(routeName(req), maxChars);
}

/**
 * Whether the strings of a JSON value (object keys included) hold more than `max`
 * characters. An explicit stack, so a deeply nested body cannot overflow the call stack, and
 * it stops as soon as the count passes `max`.
 */
export function textCharsOver(value: unknown, max: number): boolean {
  let chars = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") chars += v.length;
    else if (Array.isArray(v)) for (const item of v) stack.push(item);
    else if (typeof v === "object" && v !== null)
      for (const [key, item] of Object.entries(v)) {
        chars += key.length;
        stack.push(item);
      }
    if (chars > max) return true;
  }
  return false;
}

/** auth: before the body is read, so an unauthenticated 30 MB body costs nothing to parse. */
async function authenticate(gate: Gate, policy: RoutePolicy<unknown>, req: FastifyRequest, reply: FastifyReply) {
  const s: RequestState = { policy, started: performance.now(), finished: false };
  (req as WithState)[state] = s;
  void reply.header("x-request-id", req.id);
  // A client that leaves mid-stream still gets its row in the ledger and the audit log.
  reply.raw.once("close", () => void finish(gate, req, reply.raw.statusCode));
  if (policy.access === "tenant") s.tenant = gate.tenants.authenticate(req.headers.authorization);
  else if (policy.access === "admin") gate.tenants.authenticateAdmin(req.headers.authorization);
}

/** limits → schema → classify → budget → cache key, then the handler's context. */
async function admit(
  gate: Gate,
  policy: RoutePolicy<unknown>,
  schema: z.ZodType | undefined,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  const s = (req as WithState)[state]!;
  const bytes = bodyBytes(req);
  if (s.tenant) await gate.tenants.checkRate(s.tenant, policy.tokens?.(req.body, bytes) ?? Math.ceil(bytes / 4));
  // parseBody never throws on a hostile shape (see safeParseInput): every failure is its 400.
  const body: unknown = schema ? parseBody(schema, req.body) : req.body;
  const model = policy.model?.(body) ?? modelOf(body) ?? policy.name;
  const classification = classify(gate, policy, body, req.url);
  if (s.tenant) s.hold = await gate.tenants.reserveBudget(s.tenant, policy.maxCostUsd?.(body, bytes) ?? 0);
  const key =
    policy.cache &&
    gate.config.cache.enabled &&
    s.tenant &&
    isCacheable(body, {
      sensitive: classification.sensitive,
      force: cacheForcedByHeader(req.headers["x-aigc-cache"]),
      endpoint: policy.cache,
    })
      ? cacheKey({
          tenant: s.tenant.id,
          model,
          revision: gate.modelRevision(model),
          endpoint: policy.cache,
          request: body,
        } satisfies CacheKeyParts)
      : undefined;
  s.context = {
    body,
    tenant: s.tenant,
    model,
    classification,
    cacheKey: key,
    served: {},
    signal: clientSignal(req, reply),
  };
}

function classify(gate: Gate, policy: RoutePolicy<unknown>, body: unknown, url: string): Classification {
  if (policy.classify === "sensitive") return { sensitive: true, reason: `endpoint:${policy.name}` };
  if (policy.classify === "none") return { sensitive: false, reason: "none" };
  return classifyRequest(body, { endpoint: url, sensitiveEndpoints: gate.config.router.sensitiveEndpoints });
}

const modelOf = (body: unknown): string | undefined => {
  const model = typeof body === "object" && body !== null ? (body as { model?: unknown }).model : undefined;
  return typeof model === "string" ? model : undefined;
};

function clientSignal(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  req.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** ledger → audit → metrics, once per request. */
async function finish(gate: Gate, req: FastifyRequest, status: number): Promise<void> {
  const s = (req as WithState)[state];
  if (!s || s.finished) return;
  s.finished = true;
  const { policy } = s;
  const served = s.context?.served ?? {};
  const decision = served.decision;
  const cached = served.cache === "hit";
  const provider = decision?.provider ?? (cached ? "cache" : policy.access === "public" ? "none" : "local");
  const zone = decision?.zone ?? (cached ? "cache" : "private");
  const model = s.context?.model ?? policy.name;
  const promptTokens = served.promptTokens ?? 0;
  const completionTokens = served.completionTokens ?? 0;
  const price = decision?.provider ? gate.priceOf(decision.provider) : undefined;
  const costUsd = cached || !price ? 0 : (promptTokens * price.inputPerMTok + completionTokens * price.outputPerMTok) / 1e6;
  const ms = performance.now() - s.started;
  const endpoint = req.routeOptions.url ?? req.url.split("?")[0];
  const tenant = s.tenant?.id ?? null;

  if (policy.access !== "public") {
    if (s.tenant) {
      try {
        await gate.tenants.ledger.record(
          {
            tenant: s.tenant.id,
            model,
            provider,
            zone,
            promptTokens,
            completionTokens,
            costUsd,
            cached,
            at: Date.now(),
            endpoint,
            status,
            requestId: req.id,
          },
          s.hold,
        );
      } catch (e) {
        req.log.warn(`ledger: ${(e as Error).message}`);
      }
    }
    gate.audit.record({
      kind: "request",
      at: new Date().toISOString(),
      requestId: req.id,
      tenant,
      method: req.method,
      endpoint,
      status,
      sensitive: s.context?.classification.sensitive ?? false,
      sensitiveReason: s.context?.classification.sensitive ? s.context.classification.reason : undefined,
      provider: decision?.provider ?? null,
      zone: decision?.zone ?? null,
      cache: served.cache ?? "bypass",
      ms: Math.round(ms),
    });
  }
  const m = gate.metrics;
  m.requests.inc({ endpoint: policy.name, model, status: String(status), provider, zone, cache: served.cache ?? "bypass" });
  m.duration.observe({ endpoint: policy.name, cache: served.cache ?? "bypass" }, ms / 1000);
  if (promptTokens || completionTokens) {
    m.tokens.inc({ kind: "prompt", model, provider }, promptTokens);
    m.tokens.inc({ kind: "completion", model, provider }, completionTokens);
  }
  if (tenant && costUsd > 0) m.costUsd.inc({ tenant, provider }, costUsd);
  if (decision) m.routeDecisions.inc({ provider, zone: decision.zone ?? "none", reason: decision.reason });
}

/** A server-sent-events answer that ends through the pipeline (ledger, audit, metrics first). */
export interface SseWriter {
  /** False once the client has gone. */
  readonly open: boolean;
  send(payload: string): void;
  /** An OpenAI-style error event (the stream then ends). */
  fail(error: unknown): void;
  end(): Promise<void>;
}

export function startSse(gate: Gate, req: FastifyRequest, reply: FastifyReply, decision?: RouteDecision): SseWriter {
  reply.hijack();
  const raw = reply.raw;
  const headers: Record<string, string> = { ...sseHeaders };
  for (const [k, v] of Object.entries(reply.getHeaders())) if (typeof v === "string") headers[k] = v;
  if (decision) headers["x-aigc-route"] = formatRouteHeader(decision);
  raw.writeHead(200, headers);
  let failed = false;
  return {
    get open() {
      return !raw.destroyed;
    },
    send(payload) {
      if (!raw.destroyed) raw.write(`data: ${payload}\n\n`);
    },
    fail(e) {
      failed = true;
      if (!raw.destroyed) raw.write(`data: ${JSON.stringify(errorBody(toHttpError(e)))}\n\n`);
    },
    async end() {
      await finish(gate, req, failed ? 502 : 200);
      if (!raw.destroyed) raw.end("data: [DONE]\n\n");
    },
  };
}
