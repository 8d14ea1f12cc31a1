// Cheap checks first, and budgets that hold under concurrency. A 30 MB body is refused
// before a byte of it is parsed (413 with a key, 401 without), while /health keeps
// answering. 50 concurrent requests against one budget never spend more than it, in one
// process and across two replicas sharing a real redis-server: each request holds the most
// it can cost before it is dispatched (checking the spend, then recording it after the call,
// would let all 50 through).
//
// The priced provider is a loopback stand-in for a public cloud API (test/helpers/
// fakeUpstream.ts): no such service can run here, and the test is about our side of it.

import assert from "node:assert/strict";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildApp, createPlatform, hashApiKey, type Platform, serverConfigSchema } from "../../src/serve/index.js";
import { type FakeUpstream, startFakeUpstream } from "../helpers/fakeUpstream.js";
import { RedisServer, redisSkipReason } from "../helpers/redisServer.js";

const key = "sk-aigc-limits-tenant-0000000000000";
const model = "cloud-model";
/**
 * $0.001 a token: one short chat costs $0.009 (5 prompt + 4 completion tokens) and holds
 * about $0.11 while it runs (a token per body byte, plus max_tokens). 50 of them cost $0.45:
 * without holds they would all pass a $0.30 budget's check at once and overrun it.
 */
const price = { inputPerMTok: 1000, outputPerMTok: 1000 };
const budgetUsd = 0.3;

let upstream: FakeUpstream;

before(async () => {
  upstream = await startFakeUpstream("cloud", { delayMs: 40 });
});
after(async () => {
  await upstream?.close();
});

async function gateway(redisUrl?: string): Promise<{ app: FastifyInstance; platform: Platform }> {
  const config = serverConfigSchema.parse({
    models: { default: model, local: {} },
    providers: [{ name: "cloud", zone: "public", baseUrl: upstream.baseUrl, models: [model], price }],
    tenants: {
      auth: true,
      redisUrl,
      tenants: [{ id: "acme", name: "ACME", keyHashes: [hashApiKey(key)], budgetUsd }],
    },
  });
  const platform = await createPlatform(config);
  const app = await buildApp({ platform });
  return { app, platform };
}

const chat = (app: FastifyInstance, i: number) =>
  app.inject({
    method: "POST",
    url: "/v1/chat/completions",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    payload: { model, messages: [{ role: "user", content: "hello" }], max_tokens: 4, user: `u${i}` },
  });

async function spentOf(platform: Platform): Promise<number> {
  const rows = await platform.tenants.ledger.entries("acme", 1000);
  return rows.reduce((sum, row) => sum + row.costUsd, 0);
}

describe("budgets hold under concurrency", () => {
  test("50 concurrent requests in one process never overrun the budget", async () => {
    const { app, platform } = await gateway();
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(app, i)));
      const ok = answers.filter((r) => r.statusCode === 200).length;
      const refused = answers.filter((r) => r.statusCode === 402).length;
      assert.equal(ok + refused, 50, answers.map((r) => `${r.statusCode} ${r.statusCode === 503 ? r.body : ""}`).join(","));
      assert.ok(ok >= 1 && refused >= 1, `${ok} served, ${refused} refused`);
      const spent = await spentOf(platform);
      assert.ok(spent <= budgetUsd + 1e-9, `spent $${spent} of a $${budgetUsd} budget`);
      assert.ok(Math.abs(spent - (await platform.tenants.ledger.spent("acme"))) < 1e-9);
      const body = answers.find((r) => r.statusCode === 402)!.json() as { error: { code: string; message: string } };
      assert.equal(body.error.code, "budget_exceeded");
      assert.match(body.error.message, /could cost up to|reached/);
      // Holds are released: once the requests are done, what is left can be spent.
      assert.ok(budgetUsd - spent > 0.2);
      const next = await chat(app, 99);
      assert.equal(next.statusCode, 200, next.body.slice(0, 200));
    } finally {
      await app.close();
      await platform.close();
    }
  });

  test("50 concurrent requests over two replicas sharing Redis never overrun the budget", { skip: redisSkipReason }, async () => {
    const redis = await RedisServer.start();
    const a = await gateway(redis.url);
    const b = await gateway(redis.url);
    try {
      assert.ok(await a.platform.tenants.ready(5000));
      assert.ok(await b.platform.tenants.ready(5000));
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(i % 2 ? a.app : b.app, i)));
      const ok = answers.filter((r) => r.statusCode === 200).length;
      const refused = answers.filter((r) => r.statusCode === 402).length;
      assert.equal(ok + refused, 50, answers.map((r) => `${r.statusCode} ${r.statusCode === 503 ? r.body : ""}`).join(","));
      assert.ok(ok >= 1 && refused >= 1, `${ok} served, ${refused} refused`);
      const spent = await a.platform.tenants.ledger.spent("acme");
      assert.ok(spent <= budgetUsd + 1e-9, `spent $${spent} of a $${budgetUsd} budget`);
      assert.ok(Math.abs(spent - (await spentOf(b.platform))) < 1e-9, "both replicas see every row");
    } finally {
      await a.app.close();
      await b.app.close();
      await a.platform.close();
      await b.platform.close();
      await redis.kill();
    }
  });
});

/** POSTs `bytes` zero-filled JSON-ish bytes over a real socket; resolves with the status. */
function postHuge(port: number, bytes: number, authorization?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/v1/chat/completions",
        headers: {
          "content-type": "application/json",
          "content-length": bytes,
          ...(authorization ? { authorization } : {}),
        },
      },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    // The server answers before reading the body and may close the socket under our write.
    req.on("error", (e) => (e.message.includes("EPIPE") || e.message.includes("ECONNRESET") ? undefined : reject(e)));
    const chunk = Buffer.alloc(1 << 20, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

test("a 30 MB body is refused before it is parsed, and /health keeps answering", async () => {
  const { app, platform } = await gateway();
  try {
    await app.listen({ host: "127.0.0.1", port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    const huge = 30 * 1024 * 1024;
    const withKey = await postHuge(port, huge, `Bearer ${key}`);
    assert.equal(withKey.status, 413, withKey.body);
    assert.match(withKey.body, /body_too_large/);
    const withoutKey = await postHuge(port, huge);
    assert.equal(withoutKey.status, 401, withoutKey.body);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200);
  } finally {
    await app.close();
    await platform.close();
  }
});
