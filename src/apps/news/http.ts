// The news app's routes on the serving pipeline: GET /news (the page), readers, feedback,
// items and the digest (JSON, or the e-mail edition as HTML) for tenants; feeds and polling
// for the admin. Handlers only translate HTTP into calls on the Newsroom.

import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { issueLines, safeParseInput } from "../../runtime/index.js";
import { type AppPage, type AppPlugin, defineRoute, HttpError } from "../../serve/index.js";
import { digestEmailHtml } from "./email.js";
import { NewsInputError, type Newsroom } from "./newsroom.js";
import { newsPage } from "./page.js";
import { FEEDBACK_KINDS, readerSchema } from "./store.js";
import { openAiChatBackend } from "./summarize.js";
import type { FeedbackKind } from "./types.js";

export const newsAppPage: AppPage = {
  path: "/news",
  title: "News digest",
  description: "feeds and release notes in, a digest per reader out, every fact checked against its source",
};

const feedbackBody = z.strictObject({
  reader: z.string().min(1),
  item: z.string().min(1),
  kind: z.enum(FEEDBACK_KINDS as [FeedbackKind, ...FeedbackKind[]]),
  seconds: z.number().nonnegative().max(86_400).optional(),
});
const feedBody = z.strictObject({ url: z.string().min(1) });
const digestQuery = z.strictObject({
  reader: z.string({ error: "expected ?reader=<id>" }).min(1, "expected ?reader=<id>"),
  format: z.enum(["json", "html"]).default("json"),
  size: z.coerce.number().int().min(1).max(50).optional(),
});

const badInput = (message: string) => new HttpError(400, "invalid_news_input", message);

/** A NewsInputError is the caller's fault: a 404 for an unknown reader or item, else a 400. */
function translate(e: unknown): never {
  if (e instanceof NewsInputError) {
    if (/^(reader|feedback): no (reader|item)/.test(e.message) || /unknown (reader|item)/.test(e.message))
      throw new HttpError(404, "not_found", e.message);
    throw badInput(e.message);
  }
  throw e;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, root: string): T {
  const r = safeParseInput(schema, value);
  if (!r.success) throw badInput(issueLines(r.error, value, { root }));
  return r.data;
}

/**
 * fetch over `app.inject`: the app's own OpenAI API in process, through the whole pipeline
 * (auth, limits, ledger) with the caller's Authorization header, and no socket.
 */
export function injectFetch(app: FastifyInstance, authorization: string | undefined): typeof fetch {
  return async (input, init) => {
    const url = new URL(String(input));
    const headers: Record<string, string> = { ...(init?.headers as Record<string, string> | undefined) };
    if (authorization !== undefined) headers.authorization = authorization;
    const res = await app.inject({
      method: (init?.method ?? "GET") as "GET" | "POST",
      url: url.pathname + url.search,
      headers,
      payload: init?.body as string | undefined,
    });
    return new Response(res.body, {
      status: res.statusCode,
      headers: { "content-type": String(res.headers["content-type"] ?? "") },
    });
  };
}

export interface NewsAppOptions {
  newsroom: Newsroom;
  /** The model that writes the summaries, through the server's own OpenAI API; none: extractive only. */
  model?: string;
}

export async function newsRoutes(app: FastifyInstance, opts: NewsAppOptions): Promise<void> {
  const { newsroom, model } = opts;
  /** The caller's writer: their key, their budget. */
  const backendFor = (authorization: string | undefined) =>
    model === undefined
      ? undefined
      : openAiChatBackend({ baseUrl: "http://in-process", model, fetch: injectFetch(app, authorization) });
  defineRoute(app, {
    method: "GET",
    url: "/news",
    policy: { name: "news-page", access: "public", classify: "none" },
    handler: (_ctx, _req, reply) => reply.type("text/html; charset=utf-8").send(newsPage(newsroom.stats())),
  });
  defineRoute(app, {
    method: "GET",
    url: "/v1/news/readers",
    policy: { name: "news-readers", access: "tenant", classify: "none" },
    handler: async () => ({ object: "list", data: newsroom.store.listReaders() }),
  });
  defineRoute(app, {
    method: "POST",
    url: "/v1/news/readers",
    policy: { name: "news-reader", access: "tenant", classify: "scan", bodyLimit: 16 * 1024 },
    body: readerSchema,
    handler: async (ctx) => {
      try {
        return newsroom.addReader(ctx.body);
      } catch (e) {
        translate(e);
      }
    },
  });
  defineRoute(app, {
    method: "POST",
    url: "/v1/news/feedback",
    policy: { name: "news-feedback", access: "tenant", classify: "none", bodyLimit: 4 * 1024 },
    body: feedbackBody,
    handler: async (ctx) => {
      try {
        return newsroom.feedback(ctx.body);
      } catch (e) {
        translate(e);
      }
    },
  });
  defineRoute(app, {
    method: "GET",
    url: "/v1/news/items",
    policy: { name: "news-items", access: "tenant", classify: "none" },
    handler: async (_ctx, req) => {
      const q = parse(z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }), req.query, "the query");
      return { object: "list", total: newsroom.store.itemCount(), data: newsroom.store.items({ limit: q.limit }) };
    },
  });
  defineRoute(app, {
    method: "GET",
    url: "/v1/news/items/:id",
    policy: { name: "news-item", access: "tenant", classify: "none" },
    handler: async (_ctx, req) => {
      const { id } = req.params as { id: string };
      const item = newsroom.store.item(id);
      if (!item) throw new HttpError(404, "not_found", `item: no item "${id}" (GET /v1/news/items lists the newest)`);
      return item;
    },
  });
  defineRoute(app, {
    method: "GET",
    url: "/v1/news/digest",
    policy: { name: "news-digest", access: "tenant", classify: "none" },
    handler: async (_ctx, req, reply) => {
      const q = parse(digestQuery, req.query, "the query");
      let digest: Awaited<ReturnType<Newsroom["digest"]>>;
      try {
        digest = await newsroom.digest(q.reader, { size: q.size, backend: backendFor(req.headers.authorization) });
      } catch (e) {
        translate(e);
      }
      if (q.format === "html") return reply.type("text/html; charset=utf-8").send(digestEmailHtml(digest));
      return digest;
    },
  });
  defineRoute(app, {
    method: "POST",
    url: "/v1/news/feeds",
    policy: { name: "news-feed", access: "admin", classify: "none", bodyLimit: 4 * 1024 },
    body: feedBody,
    handler: async (ctx) => {
      const { url } = ctx.body;
      try {
        newsroom.addFeed(url);
      } catch (e) {
        translate(e);
      }
      return { url, added: true };
    },
  });
  defineRoute(app, {
    method: "POST",
    url: "/v1/news/poll",
    policy: { name: "news-poll", access: "admin", classify: "none" },
    handler: async () => ({ object: "list", data: await newsroom.poll() }),
  });
}

/** The news app as a plugin for buildApp(). */
export const newsApp = (options: NewsAppOptions): AppPlugin => ({
  register: (app) => newsRoutes(app, options),
  pages: [newsAppPage],
});
