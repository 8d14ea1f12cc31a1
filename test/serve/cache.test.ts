// Response cache: keys (normalisation, tenant namespacing, the parsed request, a depth limit
// instead of a stack overflow, fast-check properties), the cacheability rule, the in-process LRU, and the Redis store against a real redis-server —
// sharing between replicas, TTL, and outages (killed, hung, restarted) where get/set must
// resolve fast, never throw, count errors and recover.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import {
  type CachedEntry,
  cacheConfigSchema,
  cacheForcedByHeader,
  cacheKey,
  canonicalJson,
  isCacheable,
  MemoryCache,
  makeCache,
  maxCanonicalDepth,
  RedisCache,
  type ServeLogger,
} from "../../src/serve/cache/index.js";
import { HttpError } from "../../src/serve/errors.js";
import { chatCompletionRequestSchema } from "../../src/serve/openai/index.js";
import { RedisServer, redisSkipReason } from "../helpers/redisServer.js";

const chatRequest = {
  model: "moe-lm-tiny",
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Name a prime." },
  ],
  temperature: 0,
  max_tokens: 16,
};

const chatKey = (request: unknown, tenant = "acme", model = "moe-lm-tiny") =>
  cacheKey({ tenant, model, endpoint: "chat", request });

const entry = (text: string): CachedEntry => ({
  body: { id: "chatcmpl-1", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: text } }] },
  chunks: [`{"choices":[{"delta":{"content":"${text}"}}]}`, "[DONE]"],
  createdAt: 1_790_000_000_000,
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class RecordingLogger implements ServeLogger {
  readonly warnings: string[] = [];
  readonly infos: string[] = [];
  warn(message: string): void {
    this.warnings.push(message);
  }
  info(message: string): void {
    this.infos.push(message);
  }
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await run();
  return { value, ms: performance.now() - start };
}

describe("cacheKey", () => {
  test("is the same for reordered JSON keys, stream on/off, user, null fields and trailing whitespace in chat", () => {
    const base = chatKey(chatRequest);
    assert.match(base, /^acme\/chat\/[0-9a-f]{64}$/);
    const reordered = {
      max_tokens: 16,
      temperature: 0,
      messages: [
        { content: "You are terse.", role: "system" },
        { content: "Name a prime.", role: "user" },
      ],
      model: "moe-lm-tiny",
    };
    assert.equal(chatKey(reordered), base);
    assert.equal(chatKey({ ...chatRequest, stream: true, stream_options: { include_usage: true } }), base);
    assert.equal(chatKey({ ...chatRequest, stream: false }), base);
    assert.equal(chatKey({ ...chatRequest, user: "end-user-42", seed: null }), base);
    const trailing = { ...chatRequest, messages: [chatRequest.messages[0], { role: "user", content: "Name a prime.\n  \t" }] };
    assert.equal(chatKey(trailing), base);
    const parts = {
      ...chatRequest,
      messages: [chatRequest.messages[0], { role: "user", content: [{ type: "text", text: "hi \n" }] }],
    };
    const partsTrimmed = {
      ...chatRequest,
      messages: [chatRequest.messages[0], { role: "user", content: [{ type: "text", text: "hi" }] }],
    };
    assert.equal(chatKey(parts), chatKey(partsTrimmed));
  });

  test("differs by tenant, model, endpoint, any output-changing parameter, and leading or inner whitespace", () => {
    const base = chatKey(chatRequest);
    const variants = [
      chatKey(chatRequest, "globex"),
      chatKey(chatRequest, "acme", "moe-lm-small"),
      cacheKey({ tenant: "acme", model: "moe-lm-tiny", endpoint: "completions", request: chatRequest }),
      chatKey({ ...chatRequest, temperature: 0.5 }),
      chatKey({ ...chatRequest, max_tokens: 17 }),
      chatKey({ ...chatRequest, seed: 1 }),
      chatKey({ ...chatRequest, messages: [chatRequest.messages[0], { role: "user", content: " Name a prime." }] }),
      chatKey({ ...chatRequest, messages: [chatRequest.messages[0], { role: "user", content: "Name  a prime." }] }),
      chatKey({ ...chatRequest, messages: [{ role: "user", content: "Name a prime." }, chatRequest.messages[0]] }),
    ];
    assert.equal(new Set([base, ...variants]).size, variants.length + 1);
  });

  test("a __proto__ field is part of the key like any other", () => {
    const withProto = (n: number) => chatKey(JSON.parse(`{"__proto__": {"n": ${n}}, "temperature": 0}`));
    assert.notEqual(withProto(1), withProto(2));
  });

  test("keeps completion prompts and embedding inputs byte for byte", () => {
    const completion = (prompt: string) => cacheKey({ tenant: "acme", model: "m", endpoint: "completions", request: { prompt } });
    assert.notEqual(completion("The answer is "), completion("The answer is"));
    const embedding = (input: string) => cacheKey({ tenant: "acme", model: "m", endpoint: "embeddings", request: { input } });
    assert.notEqual(embedding("x\n"), embedding("x"));
  });

  test("canonicalJson sorts keys at every depth and follows JSON.stringify otherwise", () => {
    assert.equal(canonicalJson({ b: [{ d: 1, c: undefined }, undefined], a: Number.NaN }), '{"a":null,"b":[{"d":1},null]}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => canonicalJson(cyclic), /cycle/);
    assert.throws(() => canonicalJson({ n: 1n }), /bigint/);
  });

  test("is computed from the parsed request: fields the schema drops and nulls it reads as absent do not split the cache", () => {
    const parsed = (body: unknown) => chatKey(chatCompletionRequestSchema.parse(body));
    assert.equal(parsed(chatRequest), chatKey(chatRequest));
    assert.equal(parsed({ ...chatRequest, some_client_field: { x: 1 }, top_p: null }), parsed(chatRequest));
  });

  /** `levels` objects and arrays inside each other around a string. */
  const nested = (levels: number): unknown => {
    let value: unknown = "leaf";
    for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { k: value };
    return value;
  };
  const isTooDeep = (e: unknown) =>
    e instanceof HttpError &&
    e.status === 400 &&
    e.code === "too_deeply_nested" &&
    e.message.includes(`nested deeper than ${maxCanonicalDepth} levels`);

  test("a 200k-deep array is a typed 400 too_deeply_nested, not a stack overflow; the limit itself is fine", () => {
    const deep = JSON.parse(`${"[".repeat(200_000)}${"]".repeat(200_000)}`);
    assert.throws(() => canonicalJson(deep), isTooDeep);
    assert.throws(() => chatKey({ ...chatRequest, extra: deep }), isTooDeep);
    // The request is level 1: its fields may nest maxCanonicalDepth - 1 levels.
    assert.match(chatKey({ ...chatRequest, extra: nested(maxCanonicalDepth - 1) }), /^acme\/chat\/[0-9a-f]{64}$/);
    assert.throws(() => chatKey({ ...chatRequest, extra: nested(maxCanonicalDepth) }), isTooDeep);
    assert.equal(canonicalJson(nested(maxCanonicalDepth)).length > 0, true);
    assert.throws(() => canonicalJson(nested(maxCanonicalDepth + 1)), isTooDeep);
  });

  test("property: any nesting gives a key or the typed 400, never another error", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 300 }), fc.jsonValue({ maxDepth: 2 }), (shape, leaf) => {
        let value: unknown = leaf;
        for (const isArray of shape) value = isArray ? [value, leaf] : { k: value, l: leaf };
        try {
          chatKey({ ...chatRequest, extra: value });
        } catch (e) {
          assert.ok(isTooDeep(e), String(e));
          // The leaf adds a few levels of its own.
          assert.ok(shape.length + 1 >= maxCanonicalDepth - 4, `threw at ${shape.length} levels`);
        }
      }),
      { numRuns: 200 },
    );
  });

  // Rebuilds a JSON value with every object's keys in a random order.
  const shuffleKeys = (value: unknown, pick: (n: number) => number): unknown => {
    if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, pick));
    if (typeof value !== "object" || value === null) return value;
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i > 0; i--) {
      const j = pick(i + 1);
      [keys[i], keys[j]] = [keys[j], keys[i]];
    }
    return Object.fromEntries(keys.map((k) => [k, shuffleKeys((value as Record<string, unknown>)[k], pick)]));
  };

  test("property: key order never changes the key", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.infiniteStream(fc.nat()), fc.string(), (request, randoms, tenant) => {
        const it = randoms[Symbol.iterator]();
        const shuffled = shuffleKeys(request, (n) => it.next().value % n);
        const key = (r: unknown) => cacheKey({ tenant, model: "m", endpoint: "chat", request: r });
        assert.equal(key(shuffled), key(request));
      }),
      { numRuns: 300 },
    );
  });

  test("property: distinct tenants never share a key, nor a namespace prefix", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.jsonValue(), fc.jsonValue(), (tenantA, tenantB, requestA, requestB) => {
        fc.pre(tenantA !== tenantB);
        const a = cacheKey({ tenant: tenantA, model: "m", endpoint: "chat", request: requestA });
        const b = cacheKey({ tenant: tenantB, model: "m", endpoint: "chat", request: requestB });
        assert.notEqual(a, b);
        assert.notEqual(a.slice(0, a.indexOf("/")), b.slice(0, b.indexOf("/")));
      }),
      { numRuns: 300 },
    );
  });
});

describe("isCacheable", () => {
  test("caches deterministic requests; sampled ones only when forced; sensitive ones never", () => {
    const none = { sensitive: false };
    assert.equal(isCacheable({ ...chatRequest, temperature: 0 }, none), true);
    assert.equal(isCacheable({ ...chatRequest, temperature: 0.8, seed: 7 }, none), true);
    assert.equal(isCacheable({ messages: [] }, none), false, "temperature absent means the API default of 1");
    assert.equal(isCacheable({ ...chatRequest, temperature: 0.8 }, none), false);
    assert.equal(isCacheable({ ...chatRequest, temperature: 0.8, seed: 1.5 }, none), false);
    assert.equal(isCacheable({ ...chatRequest, temperature: 0.8 }, { sensitive: false, force: true }), true);
    assert.equal(isCacheable({ ...chatRequest, temperature: 0 }, { sensitive: true }), false);
    assert.equal(isCacheable({ ...chatRequest, temperature: 0 }, { sensitive: true, force: true }), false);
    assert.equal(isCacheable({ input: "text" }, { sensitive: false, endpoint: "embeddings" }), true);
    assert.equal(isCacheable({ input: "text" }, { sensitive: true, endpoint: "embeddings" }), false);
  });

  test("reads x-aigc-cache: force", () => {
    assert.equal(cacheForcedByHeader("force"), true);
    assert.equal(cacheForcedByHeader(" FORCE "), true);
    assert.equal(cacheForcedByHeader(["force"]), true);
    assert.equal(cacheForcedByHeader("no"), false);
    assert.equal(cacheForcedByHeader(undefined), false);
  });
});

describe("MemoryCache", () => {
  const options = { maxEntries: 100, maxBytes: 1024 * 1024, maxEntryBytes: 64 * 1024 };

  test("a hit returns the identical entry, as a copy nobody can change", async () => {
    const cache = new MemoryCache(options);
    const key = chatKey(chatRequest);
    assert.equal(await cache.get(key), undefined);
    const stored = entry("2");
    await cache.set(key, stored, 60);
    const hit = await cache.get(key);
    assert.deepEqual(hit, stored);
    (hit?.chunks ?? []).push("tampered");
    (stored.chunks ?? []).push("tampered too");
    assert.deepEqual(await cache.get(key), entry("2"));
    assert.equal(await cache.get(chatKey(chatRequest, "globex")), undefined, "tenant B cannot read tenant A's entry");
    assert.deepEqual(cache.stats(), { hits: 2, misses: 2, errors: 0, sets: 1, skipped: 0 });
  });

  test("entries expire after their TTL", async () => {
    const cache = new MemoryCache(options);
    await cache.set("k", entry("soon gone"), 0.1);
    assert.ok(await cache.get("k"));
    await sleep(160);
    assert.equal(await cache.get("k"), undefined);
  });

  test("skips entries over maxEntryBytes, evicts least recently used past maxBytes and maxEntries", async () => {
    const bytesOf = (e: CachedEntry) => Buffer.byteLength(JSON.stringify(e));
    const small = entry("x");
    const big = entry("y".repeat(5000));
    const skipping = new MemoryCache({ ...options, maxEntryBytes: bytesOf(big) - 1 });
    await skipping.set("big", big, 60);
    await skipping.set("small", small, 60);
    assert.equal(await skipping.get("big"), undefined);
    assert.ok(await skipping.get("small"));
    assert.equal(skipping.stats().skipped, 1);

    const bySize = new MemoryCache({ maxEntries: 100, maxBytes: bytesOf(small) * 3, maxEntryBytes: 1e6 });
    for (const k of ["a", "b", "c"]) await bySize.set(k, small, 60);
    await bySize.get("a"); // a is now the most recently used
    await bySize.set("d", small, 60);
    assert.equal(await bySize.get("b"), undefined, "b was least recently used");
    for (const k of ["a", "c", "d"]) assert.ok(await bySize.get(k), k);

    const byCount = new MemoryCache({ ...options, maxEntries: 2 });
    for (const k of ["a", "b", "c"]) await byCount.set(k, small, 60);
    assert.equal(byCount.size, 2);
    assert.equal(await byCount.get("a"), undefined);
  });

  test("an entry that cannot be stored whole is not stored at all", async () => {
    const cache = new MemoryCache(options);
    await cache.set("k", { body: { tokens: 1n }, createdAt: 1 }, 60);
    await cache.set("k2", { body: undefined, createdAt: 1 }, 60);
    await cache.set("k3", { body: {}, chunks: ["ok", 3 as unknown as string], createdAt: 1 }, 60);
    for (const k of ["k", "k2", "k3"]) assert.equal(await cache.get(k), undefined);
    assert.equal(cache.stats().errors, 3);
  });
});

describe("makeCache and cacheConfigSchema", () => {
  test("defaults to the in-process cache and rejects a non-Redis URL with a clear message", async () => {
    const cache = makeCache({});
    assert.ok(cache instanceof MemoryCache);
    assert.equal(cacheConfigSchema.parse({}).ttlSeconds, 3600);
    assert.throws(() => makeCache({ redisUrl: "http://localhost:6379" }), /redis:\/\//);
    assert.throws(() => makeCache({ ttlSecond: 5 } as never), /ttlSecond/, "a misspelt field is an error, not ignored");
    await cache.close();
  });
});

describe("RedisCache against a real redis-server", { skip: redisSkipReason }, () => {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await server.kill();
  });

  // A generous default timeout so a busy machine cannot turn a slow reply into a miss.
  const open = async (logger: ServeLogger = new RecordingLogger(), timeoutMs = 2000) => {
    const cache = makeCache({ redisUrl: server.url, keyPrefix: "test:cache:", maxEntryBytes: 16 * 1024, timeoutMs }, logger);
    assert.ok(cache instanceof RedisCache);
    assert.equal(await cache.ready(3000), true, "connects to the test server");
    return cache;
  };

  test("one replica's entry is another's identical hit; tenants stay apart; TTL expires", async (t) => {
    const replicaA = await open();
    const replicaB = await open();
    const key = chatKey(chatRequest);
    await replicaA.set(key, entry("2"), 60);
    const { value: hit, ms } = await timed(() => replicaB.get(key));
    t.diagnostic(`Redis hit in ${ms.toFixed(2)} ms`);
    assert.deepEqual(hit, entry("2"));
    assert.equal(await replicaB.get(chatKey(chatRequest, "globex")), undefined);
    assert.deepEqual(replicaB.stats(), { hits: 1, misses: 1, errors: 0, sets: 0, skipped: 0 });

    await replicaA.set("short", entry("soon gone"), 0.2);
    assert.ok(await replicaB.get("short"));
    await sleep(300);
    assert.equal(await replicaB.get("short"), undefined);
    await Promise.all([replicaA.close(), replicaB.close()]);
  });

  test("skips entries over maxEntryBytes and never stores a partial one", async () => {
    const cache = await open();
    await cache.set("big", entry("z".repeat(20_000)), 60);
    await cache.set("bad", { body: { n: 1n }, createdAt: 1 }, 60);
    assert.equal(await cache.get("big"), undefined);
    assert.equal(await cache.get("bad"), undefined);
    assert.deepEqual(cache.stats(), { hits: 0, misses: 2, errors: 1, sets: 0, skipped: 1 });
    await cache.close();
  });

  test("Redis killed: get/set resolve within milliseconds and count errors; restarted: hits again", async (t) => {
    const logger = new RecordingLogger();
    const cache = await open(logger);
    const key = chatKey(chatRequest);
    await cache.set(key, entry("2"), 60);

    await server.kill();
    const gets = [];
    for (let i = 0; i < 20; i++) gets.push(await timed(() => cache.get(key)));
    const sets = [];
    for (let i = 0; i < 20; i++) sets.push(await timed(() => cache.set(`k${i}`, entry("lost"), 60)));
    const worst = Math.max(...gets.map((g) => g.ms), ...sets.map((s) => s.ms));
    t.diagnostic(`Redis down: worst get/set ${worst.toFixed(2)} ms over 40 calls`);
    assert.ok(gets.every((g) => g.value === undefined));
    assert.ok(worst < 50, `worst call took ${worst} ms`);
    assert.equal(cache.stats().errors, 40);
    await sleep(100); // the client logs from its socket events, on a later tick
    assert.equal(logger.warnings.length, 1, `one warning per outage: ${logger.warnings.join(" | ")}`);
    assert.match(logger.warnings[0], /response cache: Redis at redis:\/\/127\.0\.0\.1:\d+ is unavailable/);

    await server.restart();
    const reconnect = await timed(() => cache.ready(3000));
    t.diagnostic(`reconnected ${reconnect.ms.toFixed(0)} ms after redis-server answered PING again`);
    assert.equal(reconnect.value, true, "reconnects on its own");
    assert.match(logger.infos.join(" | "), /reachable again/);
    assert.equal(await cache.get(key), undefined, "the restarted server is empty (no persistence)");
    await cache.set(key, entry("3"), 60);
    assert.deepEqual(await cache.get(key), entry("3"));
    await cache.close();
  });

  test("Redis hung (SIGSTOP): get/set give up after the command timeout", async (t) => {
    const cache = await open(new RecordingLogger(), 40);
    await cache.set("k", entry("2"), 60);
    server.pause();
    try {
      const get = await timed(() => cache.get("k"));
      const set = await timed(() => cache.set("k2", entry("3"), 60));
      t.diagnostic(`Redis hung: get ${get.ms.toFixed(1)} ms, set ${set.ms.toFixed(1)} ms (timeout 40 ms)`);
      assert.equal(get.value, undefined);
      assert.ok(get.ms < 200 && set.ms < 200, `get ${get.ms} ms, set ${set.ms} ms`);
      assert.ok(cache.stats().errors >= 2);
    } finally {
      server.resume();
    }
    assert.equal(await cache.ready(3000), true);
    await cache.close();
  });
});
