// The one request pipeline, proved on the server `aigc serve` runs (the shipped LM, the
// report model, encrypted inference, the digital human), with auth on: the test enumerates
// every registered route and drives each through every step. No key → 401, over the rate
// limit → 429, and every request is in the audit log, and in the ledger once a tenant is
// known. Only an explicit allowlist of GET routes is public; /metrics needs an admin key; a
// route registered without a policy stops the server from starting.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildServer, type Server } from "../../src/cli/serveApp.js";
import { buildApp, hashApiKey, type RegisteredRoute, registeredRoutes, serverConfigSchema } from "../../src/serve/index.js";
import type { MemoryAuditLog, RequestAudit } from "../../src/serve/router/index.js";

const tenantKey = "sk-aigc-pipeline-tenant-000000000000";
const limitedKey = "sk-aigc-pipeline-limited-11111111111";
const adminKey = "sk-aigc-pipeline-admin-222222222222222";

/** The routes anyone may call: pages, their static files, the synthetic samples, /health. */
const publicAllowlist = [
  "GET /",
  "GET /health",
  "GET /api-fetch.js",
  "GET /medical",
  "GET /v1/medical/samples",
  "GET /v1/medical/samples/:id/:file",
  "GET /avatar",
  "GET /avatar/app.js",
  "GET /avatar/tap-worklet.js",
  "GET /avatar/head.glb",
  "GET /avatar/lipsync/:file",
  "GET /avatar/vendor/ort/:file",
  "GET /news",
].sort();

let server: Server;
let routes: readonly RegisteredRoute[];

before(async () => {
  const config = serverConfigSchema.parse({
    tenants: {
      auth: true,
      tenants: [
        { id: "clinic", name: "Clinic", keyHashes: [hashApiKey(tenantKey)] },
        { id: "limited", name: "Limited", keyHashes: [hashApiKey(limitedKey)], rateLimit: { requestsPerMinute: 1 } },
      ],
      adminKeyHashes: [hashApiKey(adminKey)],
    },
    news: { db: ":memory:", seedFolders: [] },
  });
  server = await buildServer(config, { threads: 1 });
  routes = registeredRoutes(server.app);
});

after(async () => {
  await server?.close();
});

const id = (r: RegisteredRoute) => `${r.method} ${r.url}`;
const guarded = () => routes.filter((r) => r.policy.access !== "public");
/** A concrete path for a route pattern (parameters filled in). */
const pathOf = (url: string) => url.replace(/:[A-Za-z]+/g, "x");

const audited = (requestId: string): RequestAudit | undefined =>
  (server.platform.audit as MemoryAuditLog).entries.find(
    (e): e is RequestAudit => e.kind === "request" && e.requestId === requestId,
  );

async function call(route: RegisteredRoute, key?: string) {
  return server.app.inject({
    method: route.method as "GET" | "POST" | "HEAD",
    url: pathOf(route.url),
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    ...(route.method === "POST" ? { payload: "{}" } : {}),
  });
}

describe("every route passes the pipeline", () => {
  test("the server registers the API, medical, encrypted, avatar and news routes, each with a policy", () => {
    const names = new Set(routes.map(id));
    for (const expected of [
      "POST /v1/chat/completions",
      "POST /v1/completions",
      "POST /v1/embeddings",
      "GET /v1/models",
      "POST /v1/medical/reports",
      "POST /v1/secure/infer",
      "GET /v1/secure/models",
      "POST /v1/avatar/speak",
      "POST /v1/avatar/emotion",
      "GET /news",
      "GET /v1/news/digest",
      "POST /v1/news/readers",
      "GET /metrics",
    ])
      assert.ok(names.has(expected), `${expected} is not registered`);
    for (const r of routes) assert.ok(r.policy.name.length > 0, `${id(r)} has no policy name`);
  });

  test("only the allowlisted GET routes are public, and only /metrics, the LoRA adapter and the news feed routes are admin", () => {
    const publicRoutes = [...new Set(routes.filter((r) => r.policy.access === "public" && r.method !== "HEAD").map(id))].sort();
    assert.deepEqual(publicRoutes, publicAllowlist);
    const admin = [...new Set(routes.filter((r) => r.policy.access === "admin" && r.method !== "HEAD").map(id))];
    assert.deepEqual(admin.sort(), [
      "GET /metrics",
      "POST /v1/load_lora_adapter",
      "POST /v1/news/feeds",
      "POST /v1/news/poll",
      "POST /v1/unload_lora_adapter",
    ]);
    const medical = routes.find((r) => id(r) === "POST /v1/medical/reports")!;
    assert.equal(medical.policy.classify, "sensitive");
    assert.equal(medical.policy.cache, undefined, "medical answers are never cached");
    const encrypted = routes.find((r) => id(r) === "POST /v1/secure/infer")!;
    assert.equal(encrypted.policy.classify, "sensitive");
    assert.equal(encrypted.policy.cache, undefined);
  });

  test("no key: 401 on every non-public route, each request in the audit log", async () => {
    const checked = guarded();
    assert.ok(checked.length >= 10);
    for (const route of checked) {
      const r = await call(route);
      assert.equal(r.statusCode, 401, `${id(route)} without a key answered ${r.statusCode}: ${r.body.slice(0, 200)}`);
      const entry = audited(String(r.headers["x-request-id"]));
      assert.ok(entry, `${id(route)}: no audit entry`);
      assert.equal(entry.status, 401);
      assert.equal(entry.tenant, null);
      assert.equal(entry.endpoint, route.url);
    }
  });

  test("over the rate limit: 429 on every tenant route, each request in the audit log and the ledger", async () => {
    const first = await server.app.inject({
      method: "GET",
      url: "/v1/models",
      headers: { authorization: `Bearer ${limitedKey}` },
    });
    assert.equal(first.statusCode, 200);
    const tenantRoutes = guarded().filter((r) => r.policy.access === "tenant");
    for (const route of tenantRoutes) {
      const r = await call(route, limitedKey);
      assert.equal(r.statusCode, 429, `${id(route)} over the limit answered ${r.statusCode}: ${r.body.slice(0, 200)}`);
      if (route.method !== "HEAD") assert.equal((r.json() as { error: { code: string } }).error.code, "rate_limit_exceeded");
      const requestId = String(r.headers["x-request-id"]);
      assert.equal(audited(requestId)?.status, 429, `${id(route)}: no audit entry`);
      const rows = await server.platform.tenants.ledger.entries("limited", 1000);
      const row = rows.find((x) => x.requestId === requestId);
      assert.ok(row, `${id(route)}: no ledger row`);
      assert.equal(row.status, 429);
      assert.equal(row.costUsd, 0);
    }
  });

  test("with a key: every tenant route answers (bad bodies get a 4xx naming the problem), each in the audit log and the ledger", async () => {
    for (const route of guarded().filter((r) => r.policy.access === "tenant")) {
      const r = await call(route, tenantKey);
      assert.ok(
        r.statusCode < 500 && r.statusCode !== 401 && r.statusCode !== 429,
        `${id(route)} answered ${r.statusCode}: ${r.body.slice(0, 200)}`,
      );
      if (r.statusCode >= 400 && route.method !== "HEAD")
        assert.ok((r.json() as { error: { message: string } }).error.message.length > 10);
      const requestId = String(r.headers["x-request-id"]);
      const entry = audited(requestId);
      assert.ok(entry, `${id(route)}: no audit entry`);
      assert.equal(entry.tenant, "clinic");
      assert.equal(entry.sensitive, route.policy.classify === "sensitive", `${id(route)}: sensitivity`);
      const row = (await server.platform.tenants.ledger.entries("clinic", 1000)).find((x) => x.requestId === requestId);
      assert.ok(row, `${id(route)}: no ledger row`);
      assert.equal(row.status, r.statusCode);
    }
  });

  test("/metrics: 401 without a key, 403 with a tenant's key, 200 with the admin key", async () => {
    const get = (key?: string) =>
      server.app.inject({ method: "GET", url: "/metrics", headers: key ? { authorization: `Bearer ${key}` } : {} });
    assert.equal((await get()).statusCode, 401);
    const tenant = await get(tenantKey);
    assert.equal(tenant.statusCode, 403);
    assert.equal((tenant.json() as { error: { code: string } }).error.code, "admin_key_required");
    const admin = await get(adminKey);
    assert.equal(admin.statusCode, 200);
    assert.match(admin.body, /aigc_requests_total\{[^}]*endpoint="medical-report"[^}]*status="401"/);
    assert.match(admin.body, /aigc_requests_total\{[^}]*endpoint="secure-infer"[^}]*status="429"/);
  });

  test("public routes answer without a key", async () => {
    for (const path of ["/", "/health", "/medical", "/avatar", "/v1/medical/samples"]) {
      const r = await server.app.inject({ method: "GET", url: path });
      assert.equal(r.statusCode, 200, `${path}: ${r.statusCode}`);
    }
  });

  test("plain-object lookups cannot be reached through __proto__ or constructor", async () => {
    for (const path of ["/avatar/lipsync/__proto__", "/avatar/lipsync/constructor", "/avatar/vendor/ort/__proto__"]) {
      const r = await server.app.inject({ method: "GET", url: path });
      assert.equal(r.statusCode, 404, `${path}: ${r.statusCode} ${r.body.slice(0, 100)}`);
    }
  });
});

test("a route registered without a policy stops the server from starting", async () => {
  await assert.rejects(
    buildApp({
      apps: [
        {
          pages: [],
          register: async (app: FastifyInstance) => {
            app.get("/v1/side-door", async () => ({ ok: true }));
          },
        },
      ],
    }),
    /\/v1\/side-door has no policy: declare it with defineRoute\(\)/,
  );
});
