// POST /v1/secure/infer: ciphertexts + evaluation keys in, ciphertexts out. The server
// evaluates on data it cannot read (it holds no secret key). Ciphertexts are unreadable by
// definition, so the route is sensitive: never cached, private zone. Evaluation keys are held
// per tenant: one tenant can neither use nor name another's keys. GET /v1/secure/models lists
// the model cards a client needs to encrypt (no weights).

import type { FastifyInstance } from "fastify";
import { HeRequestError, type HeServer, modelCard } from "../../secure/index.js";
import { HttpError } from "../errors.js";
import { defineRoute } from "../pipeline.js";

export interface SecureRoutesOptions {
  server: HeServer;
  bodyLimit: number;
}

export async function secureRoutes(app: FastifyInstance, { server, bodyLimit }: SecureRoutesOptions): Promise<void> {
  defineRoute(app, {
    method: "GET",
    url: "/v1/secure/models",
    policy: { name: "secure-models", access: "tenant", classify: "none" },
    handler: async () => ({ params: server.rt.params, data: [...server.models.values()].map(modelCard) }),
  });

  defineRoute(app, {
    method: "POST",
    url: "/v1/secure/infer",
    policy: {
      name: "secure-infer",
      access: "tenant",
      classify: "sensitive",
      bodyLimit,
      model: (body) => {
        const model = typeof body === "object" && body !== null ? (body as { model?: unknown }).model : undefined;
        return typeof model === "string" && server.models.has(model) ? model : "he";
      },
    },
    handler: async (ctx) => {
      try {
        return server.infer(ctx.body, { owner: ctx.tenant?.id ?? "anonymous" });
      } catch (e) {
        if (e instanceof HeRequestError) throw new HttpError(e.status, e.code, e.message);
        throw e;
      }
    },
  });
}
