// The HTTP app: a small fastify core — one error handler, OpenAI-shaped errors — and
// routes as plugins: the OpenAI-compatible API and the operations routes over a Platform,
// encrypted inference over an HeServer, app pages.

import Fastify, { type FastifyInstance } from "fastify";
import type { HeServer } from "../secure/he/index.js";
import { errorBody, HttpError, toHttpError } from "./errors.js";
import type { Platform } from "./platform.js";
import { openAiRoutes } from "./routes/openai.js";
import { type AppPage, opsRoutes } from "./routes/ops.js";
import { secureRoutes } from "./routes/secure.js";

export interface AppOptions {
  /** The serving platform; omit to leave the OpenAI-compatible and operations routes unregistered. */
  platform?: Platform;
  /** App pages linked from the home page. */
  pages?: readonly AppPage[];
  /** App plugins (routes and pages of the apps in src/apps), registered after the core routes. */
  apps?: readonly { register: (app: FastifyInstance) => Promise<void>; pages: readonly AppPage[] }[];
  /** Largest request body in bytes (encrypted requests carry multi-MB evaluation keys). */
  bodyLimit?: number;
  /** The encrypted-inference server; omit to leave /v1/secure/* unregistered. */
  he?: HeServer;
  /** fastify's logger: true, false, or pino options such as { level: "warn" }. */
  logger?: boolean | { level: string };
}

export const defaultBodyLimit = 32 * 1024 * 1024;

export async function buildApp(opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: opts.bodyLimit ?? defaultBodyLimit, logger: opts.logger ?? false });
  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err);
    if (e.status >= 500) req.log.error(err);
    const retryAfter = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    if (typeof retryAfter === "number") void reply.header("retry-after", String(Math.ceil(retryAfter)));
    void reply.status(e.status).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new HttpError(404, "route_not_found", `no route ${req.method} ${req.url}`);
    void reply.status(404).send(errorBody(e));
  });
  if (opts.he) await app.register(secureRoutes, { server: opts.he });
  const pages = [...(opts.pages ?? [])];
  for (const plugin of opts.apps ?? []) {
    await app.register(async (scope) => plugin.register(scope));
    pages.push(...plugin.pages);
  }
  if (opts.platform) {
    await app.register(openAiRoutes, { platform: opts.platform });
    await app.register(opsRoutes, { platform: opts.platform, pages });
  }
  return app;
}
