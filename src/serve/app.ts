// The HTTP app: a small fastify core — the request pipeline, one error handler, OpenAI-shaped
// errors — and routes as plugins: the OpenAI-compatible API, LoRA adapter loading and the
// operations routes over a Platform, encrypted inference over an HeServer, app pages and APIs. Every route of every
// plugin passes the pipeline (./pipeline.ts); one registered without a policy stops startup.
// A request no route takes is answered before its body is read: 405 with `Allow` when the
// path exists under other methods, else 404.

import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { HeServer } from "../secure/index.js";
import { defaultBodyLimit, defaultEncryptedBodyLimit } from "./config.js";
import { errorBody, HttpError, methodNotAllowed, toHttpError } from "./errors.js";
import { createGate, type Gate } from "./gate.js";
import { declaredLength, installPipeline, type RegisteredRoute, routeName } from "./pipeline.js";
import type { Platform } from "./platform.js";
import { RouteMethods } from "./routeMethods.js";
import { adapterRoutes } from "./routes/adapters.js";
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
  const app = Fastify({
    bodyLimit: opts.bodyLimit ?? defaultBodyLimit,
    logger: opts.logger ?? false,
    clientErrorHandler: answerClientError,
  });
  // Expect: 100-continue (curl sends it with bodies over 1 MB): Node would say "continue" at
  // once; the pipeline says it once the request has passed auth and the size check, so a
  // refused client never sends its body at all.
  app.server.on("checkContinue", (req, res) => app.server.emit("request", req, res));
  const gate: Gate = opts.platform ?? createGate();
  if (!opts.platform) app.addHook("onClose", () => gate.close());
  const routes = installPipeline(app, gate);
  routeLists.set(app, routes);
  const methods = new RouteMethods(routes);
  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err, {
      route: routeName(req),
      bodyLimit: req.routeOptions.bodyLimit,
      contentLength: declaredLength(req),
    });
    if (e.status >= 500) req.log.error(err);
    const retryAfter = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    if (typeof retryAfter === "number") void reply.header("retry-after", String(Math.ceil(retryAfter)));
    void reply.headers(e.headers);
    // Refused before its body arrived (size, auth, 404/405): close the connection rather than
    // read the rest to keep it, once the answer is through (closeAfterAnswer).
    if (!req.raw.complete) {
      void reply.header("connection", "close");
      closeAfterAnswer(req.raw, reply.raw);
    }
    void reply.status(e.status).send(errorBody(e));
  });
  // No route took the request: answer from onRequest, so its body is never read.
  app.addHook("onRequest", async (req: FastifyRequest) => {
    if (req.is404) throw unrouted(methods, req);
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const e = unrouted(methods, req);
    void reply.status(e.status).headers(e.headers).send(errorBody(e));
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
  if (opts.platform) {
    await app.register(openAiRoutes, { platform: opts.platform });
    await app.register(adapterRoutes, { platform: opts.platform });
  }
  await app.register(opsRoutes, { gate, platform: opts.platform, pages });
  return app;
}

/** How long a refused request's connection may keep delivering bytes (discarded) after the answer. */
const lingerMs = 2000;

/**
 * Close the connection of a request refused before its body was read, without losing the
 * answer. Closing at once makes the kernel reset a socket with unread bytes, and a client still
 * writing then sees ECONNRESET instead of the 413; yet Node does just that with a
 * "connection: close" answer (fastify sets one on every body-parse error): `destroySoon`
 * ends the socket and destroys it once the last byte is out. So, once the answer is written:
 * that destroy is taken back, what still arrives is discarded (never buffered), and the socket
 * closes when the client closes it, or after `lingerMs`.
 */
function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.once("finish", () => {
    const socket = req.socket;
    socket.removeListener("finish", socket.destroy);
    req.resume();
    if (!socket.writableEnded) socket.end();
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  });
}

/** 405 with `Allow` for a known path under another method, else 404. */
function unrouted(methods: RouteMethods, req: FastifyRequest): HttpError {
  const path = req.url.split("?", 1)[0];
  const allowed = methods.methodsFor(path);
  return allowed.length > 0
    ? methodNotAllowed(req.method, path, allowed)
    : new HttpError(404, "route_not_found", `no route ${req.method} ${path}`);
}

/** Status of a request Node's HTTP parser refused, by its error code. */
const clientErrorStatus = (code: string | undefined): number =>
  code === "HPE_HEADER_OVERFLOW" ? 431 : code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;

/**
 * A request Node's HTTP parser refused (malformed request line, headers or chunk framing, a
 * body longer than its Content-Length): the same error shape as every other answer, then
 * the socket is closed (the stream cannot be resynchronised).
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  // As Node's own handler: no answer into a socket that is gone, or midway through another answer.
  const answering = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true;
  if (err.code === "ECONNRESET" || !socket.writable || answering) {
    socket.destroy(err);
    return;
  }
  const status = clientErrorStatus(err.code);
  const e = new HttpError(
    status,
    "malformed_request",
    `the server could not read this HTTP request (${err.code ?? "parse error"})`,
  );
  const body = JSON.stringify(errorBody(e));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
