// The HTTP app: a small fastify core — one error handler, OpenAI-shaped errors — and
// routes as plugins. Later issues register more route plugins here.

import Fastify, { type FastifyInstance } from "fastify";
import type { HeServer } from "../secure/he/index.js";
import { errorBody, HttpError, toHttpError } from "./errors.js";
import { secureRoutes } from "./routes/secure.js";

export interface AppOptions {
  /** Largest request body in bytes (encrypted requests carry multi-MB evaluation keys). */
  bodyLimit?: number;
  /** The encrypted-inference server; omit to leave /v1/secure/* unregistered. */
  he?: HeServer;
  logger?: boolean;
}

export const defaultBodyLimit = 32 * 1024 * 1024;

export async function buildApp(opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: opts.bodyLimit ?? defaultBodyLimit, logger: opts.logger ?? false });
  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err);
    if (e.status >= 500) req.log.error(err);
    void reply.status(e.status).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new HttpError(404, "route_not_found", `no route ${req.method} ${req.url}`);
    void reply.status(404).send(errorBody(e));
  });
  if (opts.he) await app.register(secureRoutes, { server: opts.he });
  return app;
}
