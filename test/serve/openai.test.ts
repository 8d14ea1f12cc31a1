// The serving platform end to end, driven by the clients users already have: the official
// `openai` npm package and the Vercel AI SDK (@ai-sdk/openai-compatible). Two real AIGC
// Studio servers on loopback, each with the real engine and the shipped model: a gateway,
// and a second instance acting as the "public cloud" the gateway overflows to.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { embed, generateText, streamText } from "ai";
import OpenAI from "openai";
import { buildApp } from "../../src/serve/app.js";
import { type ServerConfigInput, serverConfigSchema } from "../../src/serve/config.js";
import { createPlatform, type Platform } from "../../src/serve/platform.js";
import { hashApiKey } from "../../src/serve/tenants/index.js";
import { RedisServer, redisSkipReason } from "../helpers/redisServer.js";

interface Server {
  url: string;
  platform: Platform;
  /** Bodies of the POST requests this server received. */
  seen: unknown[];
  close(): Promise<void>;
}

async function startServer(input: ServerConfigInput): Promise<Server> {
  const platform = await createPlatform(serverConfigSchema.parse(input), { threads: 1 });
  const app = await buildApp({ platform, bodyLimit: 256 * 1024 });
  const seen: unknown[] = [];
  app.addHook("preHandler", async (req) => {
    if (req.method === "POST") seen.push(req.body);
  });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    url: address,
    platform,
    seen,
    async close() {
      await app.close();
      await platform.close();
    },
  };
}

const model = "aigc-lm-tiny";
const keyA = "sk-aigc-tenant-a-test-key-0000000000";
const keyB = "sk-aigc-tenant-b-test-key-1111111111";
const adminKey = "sk-aigc-admin-test-key-2222222222222";
let upstream: Server;
let gateway: Server;

before(async () => {
  upstream = await startServer({});
  gateway = await startServer({
    providers: [{ name: "public-cloud", zone: "public", baseUrl: `${upstream.url}/v1`, models: [model], timeoutMs: 30_000 }],
    // Overflow as soon as one request waits at the local engine.
    router: { overflow: { queueDepth: 1 } },
    batching: { maxBatch: 2, maxWaitMs: 0 },
    tenants: {
      auth: true,
      tenants: [
        { id: "a", name: "Tenant A", keyHashes: [hashApiKey(keyA)] },
        { id: "b", name: "Tenant B", keyHashes: [hashApiKey(keyB)] },
      ],
      adminKeyHashes: [hashApiKey(adminKey)],
    },
  });
});

after(async () => {
  await gateway?.close();
  await upstream?.close();
});

const client = (key = keyA) => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 });

test("openai client: chat whole and streamed agree, with usage; completions; embeddings; models", async () => {
  const openai = client();
  const ask = { model, messages: [{ role: "user" as const, content: "Tell me a fortune" }], temperature: 0, max_tokens: 16 };
  const whole = await openai.chat.completions.create(ask);
  assert.equal(whole.object, "chat.completion");
  assert.equal(whole.choices[0].message.role, "assistant");
  assert.ok(whole.choices[0].message.content!.length > 0);
  assert.equal(whole.usage!.completion_tokens <= 16, true);
  const stream = await openai.chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true } });
  let text = "";
  let usage: OpenAI.CompletionUsage | undefined | null;
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, whole.choices[0].message.content, "greedy: the stream adds up to the whole answer");
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(usage, whole.usage);

  const completion = await openai.completions.create({ model, prompt: "The sea", temperature: 0, max_tokens: 8 });
  assert.equal(completion.object, "text_completion");
  let streamed = "";
  for await (const c of await openai.completions.create({
    model,
    prompt: "The sea",
    temperature: 0,
    max_tokens: 8,
    stream: true,
  })) {
    streamed += c.choices[0]?.text ?? "";
  }
  assert.equal(streamed, completion.choices[0].text);

  const emb = await openai.embeddings.create({ model, input: ["a cat sat", "a dog ran"] });
  assert.equal(emb.data.length, 2);
  const v = emb.data[0].embedding;
  assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4, "unit length");
  const short = await openai.embeddings.create({ model, input: "a cat sat", dimensions: 16 });
  assert.equal(short.data[0].embedding.length, 16);

  const models = await openai.models.list();
  assert.deepEqual(
    models.data.map((m) => m.id),
    ["aigc-chat", model],
  );
});

test("Vercel AI SDK: generateText, streamText and embed", async () => {
  const aigc = createOpenAICompatible({ name: "aigc", baseURL: `${gateway.url}/v1`, apiKey: keyA });
  const r = await generateText({ model: aigc(model), prompt: "Tell me a fortune", temperature: 0, maxOutputTokens: 12 });
  assert.ok(r.text.length > 0);
  const s = streamText({ model: aigc(model), prompt: "Tell me a fortune", temperature: 0, maxOutputTokens: 12 });
  let text = "";
  for await (const part of s.textStream) text += part;
  assert.equal(text, r.text);
  const e = await embed({ model: aigc.embeddingModel(model), value: "hello world" });
  assert.equal(e.embedding.length, 128);
});

test("errors are OpenAI-shaped and the server keeps serving through a burst of bad requests", async () => {
  const openai = client();
  await assert.rejects(
    openai.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }),
    (e: unknown) => e instanceof OpenAI.NotFoundError && /no-such-model/.test(e.message),
  );
  await assert.rejects(
    openai.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], temperature: 7 }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && /temperature/.test(e.message),
  );
  await assert.rejects(
    new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "sk-aigc-wrong", maxRetries: 0 }).models.list(),
    (e: unknown) => e instanceof OpenAI.AuthenticationError,
  );
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${keyA}`, ...headers },
      body,
    });
  const bad = [
    "{not json",
    "[]",
    JSON.stringify({ model }),
    JSON.stringify({ model, messages: [{ role: "wizard", content: "hi" }] }),
    JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: -3 }),
    JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], n: 99 }),
    JSON.stringify({ model, messages: [{ role: "user", content: "x".repeat(300_000) }] }),
    JSON.stringify({ model, messages: [{ role: "user", content: "word ".repeat(2000) }], max_tokens: 4 }),
  ];
  const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => post(bad[i % bad.length])));
  for (const [i, r] of burst.entries()) {
    assert.ok(r.status >= 400 && r.status < 500, `bad request ${i % bad.length} → ${r.status}`);
    const body = (await r.json()) as { error: { message: string; type: string; code: string } };
    assert.equal(typeof body.error.message, "string");
    assert.equal(typeof body.error.type, "string");
  }
  assert.equal(burst[6].status, 413);
  assert.match(((await (await post(bad[7])).json()) as { error: { message: string } }).error.message, /context length/);
  const ok = await openai.chat.completions.create({
    model,
    messages: [{ role: "user", content: "still there?" }],
    max_tokens: 4,
  });
  assert.equal(ok.object, "chat.completion");
});

test("PHI never reaches the public provider, even with the private queue flooded; other traffic overflows", async () => {
  const before = upstream.seen.length;
  const sensitive = Array.from(
    { length: 10 },
    (_, i) => `Patient John Smith, MRN 55${i}2817, phone 415-555-01${10 + i}, email j.smith${i}@example.com: summarise.`,
  );
  const plain = Array.from({ length: 10 }, (_, i) => `Write line ${i} of a poem about the sea.`);
  const openai = client();
  const ask = (content: string) =>
    openai.chat.completions
      .create({ model, messages: [{ role: "user", content }], max_tokens: 12, temperature: 0.7 }, { headers: {} })
      .withResponse();
  const results = await Promise.all([...sensitive, ...plain].map(ask));
  for (const [i, r] of results.slice(0, 10).entries()) {
    const route = r.response.headers.get("x-aigc-route")!;
    assert.match(route, /zone=private/, `sensitive request ${i}: ${route}`);
    assert.match(route, /sensitive=true/);
  }
  const reachedUpstream = upstream.seen.slice(before).map((b) => JSON.stringify(b));
  for (const body of reachedUpstream) {
    assert.doesNotMatch(body, /John Smith|example\.com|415-555|MRN/, "a sensitive request reached the public provider");
  }
  const overflowed = results
    .slice(10)
    .filter((r) => /zone=public; reason=overflow/.test(r.response.headers.get("x-aigc-route")!));
  assert.ok(overflowed.length > 0, "with the private queue flooded, some non-sensitive requests overflow to the public zone");
  assert.equal(reachedUpstream.length, overflowed.length);
  // The audit log has every decision, and no prompt text.
  const audit = JSON.stringify(gateway.platform.audit);
  assert.doesNotMatch(audit, /John Smith|example\.com/);
});

test("cache: a hit returns the identical response, marked; tenant B never gets tenant A's entry", async () => {
  const ask = { model, messages: [{ role: "user" as const, content: "Cache me if you can" }], temperature: 0, max_tokens: 10 };
  const first = await client(keyA).chat.completions.create(ask).withResponse();
  assert.equal(first.response.headers.get("x-aigc-cache"), "miss");
  const second = await client(keyA).chat.completions.create(ask).withResponse();
  assert.equal(second.response.headers.get("x-aigc-cache"), "hit");
  assert.deepEqual(second.data, first.data);
  const other = await client(keyB).chat.completions.create(ask).withResponse();
  assert.equal(other.response.headers.get("x-aigc-cache"), "miss", "tenant B must not read tenant A's cache entry");
  assert.notEqual(other.data.id, first.data.id);
  // A stream replays from the cache, adding up to the cached answer.
  const replay = await client(keyA)
    .chat.completions.create({ ...ask, stream: true })
    .withResponse();
  assert.equal(replay.response.headers.get("x-aigc-cache"), "hit");
  let text = "";
  for await (const chunk of replay.data) text += chunk.choices[0]?.delta.content ?? "";
  assert.equal(text, first.data.choices[0].message.content);
  // Sampled and sensitive requests are not cached.
  const sampled = await client(keyA)
    .chat.completions.create({ ...ask, temperature: 0.8 })
    .withResponse();
  assert.equal(sampled.response.headers.get("x-aigc-cache"), "bypass");
  const phi = await client(keyA)
    .chat.completions.create({ ...ask, messages: [{ role: "user", content: "Email jane.doe@example.com her results" }] })
    .withResponse();
  assert.equal(phi.response.headers.get("x-aigc-cache"), "bypass");
});

test("Redis cache: hits across two replicas; Redis killed mid-test, requests still succeed", {
  skip: redisSkipReason,
}, async () => {
  const redis = await RedisServer.start();
  const config = { cache: { redisUrl: redis.url }, tenants: { redisUrl: redis.url } };
  const one = await startServer(config);
  const two = await startServer(config);
  try {
    const ask = (url: string) =>
      new OpenAI({ baseURL: `${url}/v1`, apiKey: "none", maxRetries: 0 }).chat.completions
        .create({ model, messages: [{ role: "user", content: "Shared cache across replicas" }], temperature: 0, max_tokens: 8 })
        .withResponse();
    const a = await ask(one.url);
    assert.equal(a.response.headers.get("x-aigc-cache"), "miss");
    const b = await ask(two.url);
    assert.equal(b.response.headers.get("x-aigc-cache"), "hit", "the second replica reads the first one's entry from Redis");
    assert.deepEqual(b.data, a.data);
    await redis.kill();
    const t0 = performance.now();
    const c = await ask(two.url);
    assert.equal(c.data.object, "chat.completion");
    assert.equal(c.response.headers.get("x-aigc-cache"), "miss", "Redis down: a miss, not a failure");
    assert.ok(performance.now() - t0 < 5000);
    assert.ok(two.platform.cache.stats().errors > 0);
  } finally {
    await one.close();
    await two.close();
    await redis.kill();
  }
});

test("/health, /metrics and the home page", async () => {
  const health = (await (await fetch(`${gateway.url}/health`)).json()) as { status: string; models: string[] };
  assert.equal(health.status, "ok");
  // Every tenant's spend is on /metrics: admins only.
  assert.equal((await fetch(`${gateway.url}/metrics`)).status, 401);
  assert.equal((await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${keyA}` } })).status, 403);
  const metrics = await (await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } })).text();
  assert.match(metrics, /aigc_requests_total\{[^}]*endpoint="chat"/);
  assert.match(metrics, /aigc_route_decisions_total\{provider="public-cloud",zone="public",reason="overflow"\}/);
  assert.match(metrics, /aigc_batcher_mean_batch\{model="aigc-lm-tiny"\}/);
  const home = await (await fetch(`${gateway.url}/`)).text();
  assert.match(home, /<h1>AIGC Studio<\/h1>/);
  assert.match(home, /aigc-lm-tiny/);
});
