// POST /v1/secure/infer through fastify's inject (no port): the happy path, every
// malformed-input case answering a clear 4xx in the OpenAI error shape while the server
// keeps serving, a fast-check property on the validator, and 1000 requests with flat memory.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ehrSplit } from "../../src/data/synthEhrRisk.js";
import { type HeModel, plainScore, standardise } from "../../src/models/ehrRisk.js";
import { HeClient, HeRequestError, HeServer, loadShippedModels, modelCard } from "../../src/secure/he/index.js";
import { buildApp } from "../../src/serve/app.js";

const models = loadShippedModels();
const logistic = models.find((m) => m.kind === "logistic")!;
const mlp = models.find((m) => m.kind === "mlp")!;
const client = await HeClient.create();
const keys = client.keygen();
const rows = ehrSplit().heldOut.x.slice(0, 8);
const cts = await client.encryptFeatures(keys.publicKey, modelCard(logistic), rows);
const server = await HeServer.create(models);
const app = await buildApp({ he: server });
const evalKeys = { galoisKeys: keys.galoisKeys, relinKeys: keys.relinKeys };

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({
    method: "POST",
    url: "/v1/secure/infer",
    payload: typeof payload === "string" ? payload : JSON.stringify(payload),
    headers: { "content-type": "application/json", ...headers },
  });

interface ErrBody {
  error: { message: string; type: string; code: string };
}

async function expectError(payload: unknown, status: number, code: string) {
  const r = await post(payload);
  assert.equal(r.statusCode, status, `${code}: ${r.body.slice(0, 300)}`);
  const body = r.json() as ErrBody;
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0 && typeof body.error.type === "string");
  return body.error.message;
}

async function expectScores(model: HeModel = mlp) {
  const r = await post({ model: model.name, ...evalKeys, ciphertexts: cts, count: rows.length });
  assert.equal(r.statusCode, 200, r.body.slice(0, 300));
  const body = r.json() as { ciphertexts: string[]; keyId: string };
  const { scores } = await client.decryptScores(keys.secretKey, modelCard(model), body.ciphertexts, rows.length);
  scores.forEach((s, i) => {
    assert.ok(Math.abs(s - plainScore(model, standardise(model, rows[i]))) < 1e-3);
  });
  return body.keyId;
}

test("POST /v1/secure/infer evaluates both models; GET /v1/secure/models lists cards without weights", async () => {
  await expectScores(logistic);
  await expectScores(mlp);
  const r = await app.inject({ method: "GET", url: "/v1/secure/models" });
  const body = r.json() as { data: Record<string, unknown>[] };
  assert.deepEqual(body.data.map((m) => m.name).sort(), ["ehr-logistic", "ehr-mlp"]);
  assert.ok(body.data.every((m) => !("w1" in m) && !("weights" in m)));
});

test("malformed requests get clear 4xx answers and the server keeps serving", async () => {
  const other = await HeClient.create({
    name: "other",
    polyModulusDegree: 8192,
    coeffModulusBits: [50, 30, 30, 50],
    scaleBits: 30,
  });
  const otherKeys = other.keygen();
  const otherCt = (await other.encryptVectors(otherKeys.publicKey, [Float64Array.of(1)]))[0];
  const ok = { model: mlp.name, ...evalKeys, ciphertexts: cts };
  assert.match(await expectError("{not json", 400, "invalid_json"), /JSON/i);
  await expectError({ ...ok, model: "gpt-9" }, 404, "model_not_found");
  await expectError({ ...ok, ciphertexts: [] }, 400, "invalid_request");
  await expectError({ ...ok, ciphertexts: new Array(17).fill(cts[0]) }, 400, "invalid_request");
  await expectError({ ...ok, extra: 1 }, 400, "invalid_request");
  await expectError({ model: mlp.name, ciphertexts: cts }, 400, "invalid_request");
  await expectError({ ...ok, ciphertexts: ["@@@@"] }, 400, "invalid_ciphertext");
  await expectError({ ...ok, ciphertexts: [cts[0].slice(0, 10_000)] }, 400, "invalid_ciphertext");
  await expectError({ ...ok, ciphertexts: [keys.relinKeys.slice(0, 400)] }, 400, "invalid_ciphertext");
  await expectError({ ...ok, ciphertexts: [otherCt] }, 400, "invalid_ciphertext");
  await expectError({ ...ok, galoisKeys: otherKeys.galoisKeys }, 400, "invalid_key");
  await expectError({ ...ok, relinKeys: otherKeys.relinKeys }, 400, "invalid_key");
  await expectError({ ...ok, relinKeys: undefined }, 400, "missing_relin_keys");
  await expectError({ ...ok, params: "ckks16384" }, 400, "params_mismatch");
  await expectError({ model: mlp.name, keyId: "0".repeat(64), ciphertexts: cts }, 400, "unknown_key_id");
  const tiny = await buildApp({ he: server, encryptedBodyLimit: 1024 });
  const big = await tiny.inject({ method: "POST", url: "/v1/secure/infer", payload: ok });
  assert.equal(big.statusCode, 413);
  assert.equal((big.json() as ErrBody).error.code, "body_too_large");
  await tiny.close();
  const none = await app.inject({ method: "GET", url: "/v1/nothing" });
  assert.equal(none.statusCode, 404);
  assert.equal((none.json() as ErrBody).error.code, "route_not_found");
  await expectScores(mlp);
});

test("property: random JSON bodies never crash the validator (4xx or a valid answer)", () => {
  const field = fc.oneof(fc.string(), fc.constant(cts[0].slice(0, 64)), fc.constant("oV4QBAEAAAAA"), fc.jsonValue());
  const shaped = fc.record(
    {
      model: fc.oneof(fc.constant(mlp.name), fc.constant(logistic.name), fc.string()),
      galoisKeys: field,
      relinKeys: field,
      keyId: fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.string()),
      ciphertexts: fc.oneof(fc.array(field, { maxLength: 3 }), fc.jsonValue()),
      count: fc.oneof(fc.integer(), fc.jsonValue()),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), shaped), (body) => {
      try {
        server.infer(body);
      } catch (e) {
        assert.ok(e instanceof HeRequestError, `unexpected ${String(e)}`);
        assert.ok(e.status >= 400 && e.status < 500);
      }
    }),
    { numRuns: 300, seed: 7 },
  );
});

test("1000 requests in a row leave memory flat", async () => {
  const keyId = await expectScores(logistic);
  const body = JSON.stringify({ model: logistic.name, keyId, ciphertexts: [cts[0]] });
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = await post(body);
      assert.equal(r.statusCode, 200);
    }
  };
  await run(100); // warm up: WASM heap and V8 reach their working size
  global.gc?.();
  const before = process.memoryUsage();
  await run(900);
  global.gc?.();
  const after = process.memoryUsage();
  const mb = (b: number) => b / 2 ** 20;
  const rssGrowth = mb(after.rss - before.rss);
  const bufGrowth = mb(after.arrayBuffers - before.arrayBuffers); // includes the WASM memory
  console.log(`memory over 900 requests: rss ${rssGrowth.toFixed(1)} MiB, arrayBuffers (WASM heap) ${bufGrowth.toFixed(1)} MiB`);
  assert.ok(bufGrowth < 16, `WASM/array-buffer memory grew by ${bufGrowth.toFixed(1)} MiB`);
  assert.ok(rssGrowth < 64, `rss grew by ${rssGrowth.toFixed(1)} MiB`);
  assert.equal(server.heldKeySets, 2);
});

test("shutdown", async () => {
  await app.close();
  server.close();
});

test("held evaluation keys belong to the tenant that sent them: another tenant cannot use their key id", async () => {
  const request = { model: logistic.name, ...evalKeys, ciphertexts: [cts[0]], count: 1 };
  const { keyId } = server.infer(request, { owner: "tenant-a" });
  const byId = { model: logistic.name, keyId, ciphertexts: [cts[0]], count: 1 };
  assert.equal(server.infer(byId, { owner: "tenant-a" }).keyId, keyId);
  assert.throws(
    () => server.infer(byId, { owner: "tenant-b" }),
    (e: unknown) => e instanceof HeRequestError && e.code === "unknown_key_id",
  );
});
