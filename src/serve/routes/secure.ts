// POST /v1/secure/infer: ciphertexts + evaluation keys in, ciphertexts out. The server
// evaluates on data it cannot read (it holds no secret key). GET /v1/secure/models lists
// the model cards a client needs to encrypt (no weights).

import type { FastifyPluginAsync } from "fastify";
import { HeRequestError, type HeServer, modelCard } from "../../secure/he/index.js";
import { HttpError } from "../errors.js";

export interface SecureRoutesOptions {
  server: HeServer;
}

export const secureRoutes: FastifyPluginAsync<SecureRoutesOptions> = async (app, { server }) => {
  app.get("/v1/secure/models", async () => ({
    params: server.rt.params,
    data: [...server.models.values()].map(modelCard),
  }));

  app.post("/v1/secure/infer", async (req) => {
    try {
      return server.infer(req.body);
    } catch (e) {
      if (e instanceof HeRequestError) throw new HttpError(e.status, e.code, e.message);
      throw e;
    }
  });
};
