// The HTTP app: a small fastify core — the request pipeline, one error handler, OpenAI-shaped
// errors — and routes as plugins: the OpenAI-compatible API and the operations routes over a
// Platform, encrypted inference over an HeServer, app pages and APIs. Every route of every
// plugin passes the pipeline (./pipeline.ts); one registered without a policy stops startup.

import Fastify, { type FastifyInstance } from "fastify";
import type { HeServer } from "../secure/index.js";
import { defaultBodyLimit, defaultEncryptedBodyLimit } from "./config.js";
import { errorBody, HttpError, toHttpError } from "./errors.js";
import { createGate, type Gate } from "./gate.js";
import { installPipeline, type RegisteredRoute } from "./pipeline.js";
import type { Platform } from "./platform.js";
import { openAiRoutes } from "./routes/openai.js";
import { type AppPage, opsRoutes } from "./routes/ops.js";
import { secureRoutes } from "./routes/secure.js";

/** An app (src/apps): its routes, declared with defineRoute, and its pages for the home page. */
export interface AppPlugin {
  register: (app: FastifyInstance, gate: Gate) => Promise<void>;
  pages: readonly AppPage[];
}

export interface AppOptions {
  /** The serving platform; omit for a server without models (apps or encrypted inference only). */
  platform?: Platform;
  /** App plugins (routes and pages of the apps in src/apps), registered after the core routes. */
  apps?: readonly AppPlugin[];
  /** Largest request body in bytes of a route that sets none. */
  bodyLimit?: number;
  /** Largest encrypted-inference body (it carries multi-MB evaluation keys). */
  encryptedBodyLimit?: number;
  /** The encrypted-inference server; omit to leave /v1/secure/* unregistered. */
  he?: HeServer;
  /** fastify's logger: true, false, or pino options such as { level: "warn" }. */
  logger?: boolean | { level: string };
}

const routeLists = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route the app registered, with its policy (for the route-enumeration test). */
export const registeredRoutes = (app: FastifyInstance): readonly RegisteredRoute[] => routeLists.get(app) ?? [];

export async function buildApp(opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: opts.bodyLimit ?? defaultBodyLimit, logger: opts.logger ?? false });
  const gate: Gate = opts.platform ?? createGate();
  if (!opts.platform) app.addHook("onClose", () => gate.close());
  routeLists.set(app, installPipeline(app, gate));
  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err);
    if (e.status >= 500) req.log.error(err);
    const retryAfter = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    if (typeof retryAfter === "number") void reply.header("retry-after", String(Math.ceil(retryAfter)));
    // Refused before its body arrived (size, auth): close, rather than read the rest to keep the socket.
    if (!req.raw.complete) void reply.header("connection", "close");
    void reply.status(e.status).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new HttpError(404, "route_not_found", `no route ${req.method} ${req.url}`);
    void reply.status(404).send(errorBody(e));
  });
  if (opts.he)
    await app.register(secureRoutes, {
      server: opts.he,
      bodyLimit: opts.encryptedBodyLimit ?? defaultEncryptedBodyLimit,
    });
  const pages: AppPage[] = [];
  for (const plugin of opts.apps ?? []) {
    await app.register(async (scope) => plugin.register(scope, gate));
    pages.push(...plugin.pages);
  }
  if (opts.platform) await app.register(openAiRoutes, { platform: opts.platform });
  await app.register(opsRoutes, { gate, platform: opts.platform, pages });
  return app;
}
