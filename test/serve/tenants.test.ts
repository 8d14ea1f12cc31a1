// Tenants: API keys (hash only, never echoed), the Authorization parser (fast-check: only
// ever HttpError 401), config validation, sliding-window limits (fast-check on the window
// arithmetic), budgets and the ledger — in memory, and on a real redis-server shared by two
// "replicas", including atomicity under concurrency and a Redis crash and restart.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { inspect } from "node:util";
import fc from "fast-check";
import { Redis } from "ioredis";
import type { ServeLogger } from "../../src/serve/cache/index.js";
import { HttpError } from "../../src/serve/errors.js";
import {
  hashApiKey,
  type LedgerEntry,
  MemoryLedger,
  MemoryRateLimiter,
  makeTenants,
  newApiKey,
  parseBearer,
  RateLimitError,
  RedisRateLimiter,
  rollWindow,
  type Tenant,
  Tenants,
  tenantsConfigSchema,
  waitMs,
} from "../../src/serve/tenants/index.js";
import { RedisServer, redisSkipReason } from "../helpers/redisServer.js";

const acmeKey = newApiKey();
const globexKey = newApiKey();

const tenantsConfig = (extra: Record<string, unknown> = {}) => ({
  auth: true,
  tenants: [
    { id: "acme", name: "Acme", keyHashes: [hashApiKey(acmeKey)], rateLimit: { requestsPerMinute: 5, tokensPerMinute: 1000 } },
    { id: "globex", name: "Globex", keyHashes: [hashApiKey(globexKey)], budgetUsd: 0.01 },
  ],
  ...extra,
});

const usage = (tenant: string, costUsd: number, at = Date.now()): LedgerEntry => ({
  tenant,
  model: "moe-lm-tiny",
  provider: "local",
  zone: "private",
  promptTokens: 12,
  completionTokens: 30,
  costUsd,
  cached: false,
  at,
});

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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `run`, expecting it to throw an HttpError with this status and code; returns it. */
async function rejection(run: () => unknown, status: number, code: string): Promise<HttpError> {
  try {
    await run();
  } catch (e) {
    assert.ok(e instanceof HttpError, `expected HttpError, got ${e}`);
    assert.equal(e.status, status, e.message);
    assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected HttpError ${status} ${code}, nothing was thrown`);
}

/** How many of the settled promises were fulfilled, and that every rejection is a 429. */
function countAllowed(results: PromiseSettledResult<void>[]): number {
  for (const r of results)
    if (r.status === "rejected") assert.ok(r.reason instanceof RateLimitError, `unexpected rejection ${r.reason}`);
  return results.filter((r) => r.status === "fulfilled").length;
}

describe("API keys", () => {
  test("new keys are sk-aigc- plus 32 base64url characters, all distinct", () => {
    const keys = Array.from({ length: 200 }, newApiKey);
    for (const key of keys) assert.match(key, /^sk-aigc-[A-Za-z0-9_-]{32}$/);
    assert.equal(new Set(keys).size, keys.length);
  });

  test("the stored form is the SHA-256 hex of the key", () => {
    // FIPS 180-2 test vector: SHA-256("abc").
    assert.equal(hashApiKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(hashApiKey(acmeKey), createHash("sha256").update(acmeKey).digest("hex"));
  });
});

describe("authenticate", () => {
  const tenants = makeTenants(tenantsConfig());

  test("a valid bearer key names its tenant, without any key material", () => {
    const tenant = tenants.authenticate(`Bearer ${acmeKey}`);
    assert.equal(tenant.id, "acme");
    assert.equal(tenants.authenticate(`bearer   ${globexKey} `).id, "globex");
    assert.equal(tenants.authenticate([`Bearer ${acmeKey}`]).id, "acme");
    assert.equal("keyHashes" in tenant, false);
    assert.ok(!JSON.stringify(tenant).includes(hashApiKey(acmeKey)));
  });

  test("missing, malformed and unknown keys are 401 invalid_api_key, never echoing the key", async () => {
    const missing = await rejection(() => tenants.authenticate(undefined), 401, "invalid_api_key");
    assert.match(missing.message, /missing API key.*Authorization: Bearer/);
    const malformed = await rejection(() => tenants.authenticate(`Basic ${acmeKey}`), 401, "invalid_api_key");
    assert.match(malformed.message, /expected "Bearer <API key>"/);
    assert.ok(!malformed.message.includes(acmeKey));
    const unknown = newApiKey();
    const wrong = await rejection(() => tenants.authenticate(`Bearer ${unknown}`), 401, "invalid_api_key");
    assert.match(wrong.message, /invalid API key/);
    assert.ok(!wrong.message.includes(unknown));
  });

  test("auth off: no key or an unknown key is the anonymous tenant; a known key still names its tenant", () => {
    const open = makeTenants({ ...tenantsConfig(), auth: false, anonymous: { rateLimit: { requestsPerMinute: 2 } } });
    assert.equal(open.authenticate(undefined).id, "anonymous");
    assert.equal(open.authenticate("Bearer sk-no-key-required").id, "anonymous");
    assert.equal(open.authenticate("garbage").id, "anonymous");
    assert.equal(open.authenticate(`Bearer ${acmeKey}`).id, "acme");
    assert.deepEqual(open.anonymous.rateLimit, { requestsPerMinute: 2 });
    assert.equal(makeTenants().authenticate(undefined).id, "anonymous", "the embedded default has auth off");
  });

  test("property: any header either authenticates or throws HttpError 401 that does not echo it", () => {
    const header = fc.oneof(
      fc.string(),
      fc.string().map((s) => `Bearer ${s}`),
      fc.string().map((s) => `bEaReR\t${s}  `),
      fc.constantFrom(`Bearer ${acmeKey}`, `Bearer ${acmeKey}x`, `Bearer ${acmeKey.slice(0, -1)}`),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.constant(undefined),
    );
    fc.assert(
      fc.property(header, (h) => {
        let tenant: Tenant;
        try {
          tenant = tenants.authenticate(h);
        } catch (e) {
          assert.ok(e instanceof HttpError && e.status === 401 && e.code === "invalid_api_key", `threw ${e}`);
          const token = (Array.isArray(h) ? h[0] : h)?.trim().split(/\s+/)[1];
          if (token && token.length >= 8) assert.ok(!e.message.includes(token), e.message);
          return;
        }
        assert.equal(tenant.id, "acme");
        assert.equal(parseBearer(h), acmeKey);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("tenantsConfigSchema", () => {
  const issues = (config: unknown) => {
    const parsed = tenantsConfigSchema.safeParse(config);
    assert.equal(parsed.success, false);
    return parsed.error?.issues.map((i) => i.message).join(" | ") ?? "";
  };

  test("defaults to auth off with no tenants", () => {
    const c = tenantsConfigSchema.parse({});
    assert.equal(c.auth, false);
    assert.deepEqual(c.tenants, []);
    assert.equal(c.redisUrl, undefined);
  });

  test("says what is wrong: duplicate ids, shared keys, no keys with auth on, bad hashes, reserved id", () => {
    const hash = hashApiKey(acmeKey);
    assert.match(
      issues({
        tenants: [
          { id: "a", name: "A", keyHashes: [hash] },
          { id: "a", name: "A2" },
        ],
      }),
      /"a" is used twice/,
    );
    assert.match(
      issues({
        tenants: [
          { id: "a", name: "A", keyHashes: [hash] },
          { id: "b", name: "B", keyHashes: [hash] },
        ],
      }),
      /share a key hash/,
    );
    assert.match(issues({ auth: true, tenants: [{ id: "a", name: "A" }] }), /no tenant has a key/);
    assert.match(issues({ tenants: [{ id: "a", name: "A", keyHashes: [acmeKey] }] }), /64 lowercase hex/);
    assert.match(issues({ tenants: [{ id: "anonymous", name: "A" }] }), /reserved/);
    assert.match(issues({ tenants: [{ id: "a:b", name: "A" }] }), /tenant id is 1-64 letters/);
    assert.match(
      issues({ tenants: [{ id: "a", name: "A", budgetUSD: 1 }] }),
      /budgetUSD/,
      "a misspelt field is an error, not ignored",
    );
  });
});

describe("sliding window", () => {
  test("property: a denied request fits after the wait it was told, and allowed use stays under the limit", () => {
    const windowMs = 60_000;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.array(
          fc.record({ advanceMs: fc.integer({ min: 0, max: 90_000 }), share: fc.double({ min: 0, max: 1, noNaN: true }) }),
          {
            minLength: 1,
            maxLength: 60,
          },
        ),
        fc.integer({ min: 0, max: 10 * windowMs }),
        (limit, steps, start) => {
          let now = start;
          const limiter = new MemoryRateLimiter(() => now);
          for (const { advanceMs, share } of steps) {
            now += advanceMs;
            const amount = Math.round(share * limit);
            const counters = [{ name: "tokens", limit, amount }];
            const decision = limiter.consumeNow("t", counters, windowMs);
            if (decision.allowed) {
              // Invariant: the weighted count never goes over the limit (an empty request still fits).
              assert.equal(limiter.consumeNow("t", [{ name: "tokens", limit, amount: 0 }], windowMs).allowed, true);
              continue;
            }
            assert.ok(Number.isFinite(decision.retryAfterMs) && decision.retryAfterMs >= 1, `${decision.retryAfterMs}`);
            now += decision.retryAfterMs;
            assert.equal(
              limiter.consumeNow("t", counters, windowMs).allowed,
              true,
              `not allowed after ${decision.retryAfterMs} ms`,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test("the weighted count slides: half the previous window counts halfway through the next", () => {
    const state = rollWindow({ window: 7, current: 10, previous: 0 }, 8);
    assert.deepEqual(state, { window: 8, current: 0, previous: 10 });
    assert.equal(waitMs(state, 30_000, 60_000, 15, 10), 0, "5 still counted + 10 fits under 15");
    assert.equal(waitMs(state, 30_000, 60_000, 14, 10), 6_000, "must wait until only 4 of the 10 count");
    assert.equal(waitMs(state, 0, 60_000, 5, 6), Number.POSITIVE_INFINITY);
    assert.deepEqual(rollWindow(state, 10), { window: 10, current: 0, previous: 0 });
  });
});

describe("Tenants in memory", () => {
  // Sliding-window approximation: requests of the previous minute count in proportion to how
  // much of it still overlaps the last 60 s, so a full minute can ask for up to 2 minutes' wait.
  test("429 with Retry-After after N requests per minute; the window slides back open", async () => {
    let now = 1_800_000_000_000;
    const config = tenantsConfigSchema.parse(tenantsConfig());
    const tenants = new Tenants(config, { limiter: new MemoryRateLimiter(() => now), ledger: new MemoryLedger(100) });
    const acme = tenants.authenticate(`Bearer ${acmeKey}`);
    for (let i = 0; i < 5; i++) await tenants.checkRate(acme, 10);
    const e = await rejection(() => tenants.checkRate(acme, 10), 429, "rate_limit_exceeded");
    assert.ok(e instanceof RateLimitError);
    assert.ok(
      e.retryAfterSeconds !== undefined && e.retryAfterSeconds >= 1 && e.retryAfterSeconds <= 120,
      `${e.retryAfterSeconds}`,
    );
    assert.match(e.message, /5 requests per minute/);
    now += e.retryAfterSeconds * 1000;
    await tenants.checkRate(acme, 10);
    const globex = tenants.authenticate(`Bearer ${globexKey}`);
    for (let i = 0; i < 50; i++) await tenants.checkRate(globex, 10_000); // no limits configured
  });

  test("token limits: all or nothing, and a request larger than the limit says so", async () => {
    const tenants = makeTenants(tenantsConfig());
    const acme = tenants.authenticate(`Bearer ${acmeKey}`);
    await tenants.checkRate(acme, 900);
    const tokens = await rejection(() => tenants.checkRate(acme, 200), 429, "rate_limit_exceeded");
    assert.match(tokens.message, /1000 tokens per minute/);
    // The token denial used no request slot: 4 more small requests fit (5 per minute).
    for (let i = 0; i < 4; i++) await tenants.checkRate(acme, 1);
    const tooBig = await rejection(
      () => tenants.checkRate(tenants.authenticate(`Bearer ${acmeKey}`), 5000),
      429,
      "rate_limit_exceeded",
    );
    assert.ok(tooBig instanceof RateLimitError && tooBig.retryAfterSeconds === undefined);
    assert.match(tooBig.message, /on its own/);
    await assert.rejects(() => tenants.checkRate(acme, Number.NaN), TypeError);
  });

  test("402 budget_exceeded once the ledger reaches the budget", async () => {
    const tenants = makeTenants(tenantsConfig());
    const globex = tenants.authenticate(`Bearer ${globexKey}`);
    await tenants.reserveBudget(globex, 0);
    await tenants.ledger.record(usage("globex", 0.004));
    await tenants.ledger.record(usage("globex", 0.004));
    await tenants.reserveBudget(globex, 0);
    await tenants.ledger.record(usage("globex", 0.004));
    const e = await rejection(() => tenants.reserveBudget(globex, 0), 402, "budget_exceeded");
    assert.match(e.message, /budget of \$0.01 reached/);
    await tenants.reserveBudget(tenants.authenticate(`Bearer ${acmeKey}`), 0); // no budget, no limit
  });

  test("ledger: spend per tenant, latest rows newest first, bounded, invalid rows refused", async () => {
    const ledger = new MemoryLedger(10);
    for (let i = 0; i < 30; i++) await ledger.record(usage(i % 2 ? "acme" : "globex", 0.001 * i, i));
    assert.ok(
      Math.abs((await ledger.spent("acme")) - 0.001 * (1 + 3 + 5 + 7 + 9 + 11 + 13 + 15 + 17 + 19 + 21 + 23 + 25 + 27 + 29)) <
        1e-12,
    );
    const latest = await ledger.entries("acme", 3);
    assert.deepEqual(
      latest.map((r) => r.at),
      [29, 27, 25],
    );
    assert.deepEqual(
      (await ledger.entries(undefined, 2)).map((r) => r.at),
      [29, 28],
    );
    assert.ok((await ledger.entries("acme", 1000)).length <= 13, "keeps about maxRowsKept rows");
    assert.deepEqual(await ledger.entries("nobody"), []);
    await assert.rejects(() => ledger.record({ ...usage("acme", -1) }), /invalid ledger entry/);
    await assert.rejects(() => ledger.record({ ...usage("acme", 1), promptTokens: 1.5 }), /promptTokens/);
  });
});

describe("Tenants on a real redis-server, two replicas", { skip: redisSkipReason }, () => {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await server.kill();
  });

  let prefixCount = 0;
  /**
   * Two replicas sharing Redis under a fresh key prefix (tests do not see each other's
   * counters). A generous command timeout: on a busy machine a slow reply must not turn
   * into a fallback to local counting, except where a test means it to.
   */
  async function replicas(logger: ServeLogger = new RecordingLogger(), extra: Record<string, unknown> = {}) {
    const config = tenantsConfig({ redisUrl: server.url, redisPrefix: `t${++prefixCount}:`, timeoutMs: 2000, ...extra });
    const pair = [makeTenants(config, logger), makeTenants(config, logger)] as const;
    for (const replica of pair) assert.equal(await replica.ready(3000), true, "connects to the test server");
    return pair;
  }

  test("a per-minute limit holds across replicas, also under 60 concurrent requests", async () => {
    const [a, b] = await replicas();
    const acme = a.authenticate(`Bearer ${acmeKey}`);
    for (let i = 0; i < 5; i++) await (i % 2 ? b : a).checkRate(acme, 10);
    const e = await rejection(() => b.checkRate(acme, 10), 429, "rate_limit_exceeded");
    assert.ok(e instanceof RateLimitError && e.retryAfterSeconds !== undefined && e.retryAfterSeconds <= 120);
    await rejection(() => a.checkRate(acme, 10), 429, "rate_limit_exceeded");

    const [c, d] = await replicas(new RecordingLogger(), {
      tenants: [{ id: "burst", name: "Burst", keyHashes: [hashApiKey(acmeKey)], rateLimit: { requestsPerMinute: 20 } }],
    });
    const burst = c.authenticate(`Bearer ${acmeKey}`);
    const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => (i % 2 ? c : d).checkRate(burst, 1)));
    for (const t of [a, b, c, d]) assert.equal(t.stats().limiterErrors, 0, "no call fell back to local counting");
    assert.equal(countAllowed(results), 20);
    await Promise.all([a, b, c, d].map((t) => t.close()));
  });

  test("the Lua window slides on Redis' clock: a denied request fits after its wait", async () => {
    const redis = new Redis(server.url);
    const limiter = new RedisRateLimiter(redis, { prefix: "slide:" });
    const counters = [{ name: "requests", limit: 2, amount: 1 }];
    assert.equal((await limiter.consume("k", counters, 1000)).allowed, true);
    assert.equal((await limiter.consume("k", counters, 1000)).allowed, true);
    const denied = await limiter.consume("k", counters, 1000);
    assert.equal(denied.allowed, false);
    assert.equal(denied.deniedBy, "requests");
    assert.ok(denied.retryAfterMs >= 1 && denied.retryAfterMs <= 2000, `${denied.retryAfterMs}`);
    await sleep(denied.retryAfterMs + 5);
    assert.equal((await limiter.consume("k", counters, 1000)).allowed, true);
    const never = await limiter.consume("k", [{ name: "tokens", limit: 5, amount: 6 }], 1000);
    assert.equal(never.retryAfterMs, Number.POSITIVE_INFINITY);
    redis.disconnect();
  });

  test("a budget holds across replicas: spend recorded on one is refused on the other", async () => {
    const [a, b] = await replicas();
    const globex = a.authenticate(`Bearer ${globexKey}`);
    const costs = [0.0011, 0.0023, 0.0031, 0.0029];
    await Promise.all(costs.map((cost, i) => (i % 2 ? a : b).ledger.record(usage("globex", cost, i))));
    await b.reserveBudget(globex, 0);
    const expected = costs.reduce((s, c) => s + c, 0);
    assert.ok(Math.abs((await b.ledger.spent("globex")) - expected) < 1e-12);
    await a.ledger.record(usage("globex", 0.001, 10));
    await rejection(() => b.reserveBudget(globex, 0), 402, "budget_exceeded");
    await rejection(() => a.reserveBudget(globex, 0), 402, "budget_exceeded");
    const rows = await b.ledger.entries("globex");
    assert.equal(rows.length, 5);
    assert.equal(rows[0].at, 10, "newest first");
    assert.deepEqual(
      (await a.ledger.entries(undefined, 2)).map((r) => r.tenant),
      ["globex", "globex"],
    );
    await Promise.all([a.close(), b.close()]);
  });

  test("Redis killed: nothing throws but limits, local counting, rows queued; restarted: rows written", async () => {
    const logger = new RecordingLogger();
    const [a, b] = await replicas(logger);
    const acme = a.authenticate(`Bearer ${acmeKey}`);
    const globex = a.authenticate(`Bearer ${globexKey}`);
    await a.ledger.record(usage("globex", 0.004, 1));
    assert.ok(Math.abs((await a.ledger.spent("globex")) - 0.004) < 1e-12);

    await server.kill();
    const start = performance.now();
    // Each replica now counts on its own: 5 per minute each.
    for (let i = 0; i < 5; i++) await a.checkRate(acme, 1);
    await rejection(() => a.checkRate(acme, 1), 429, "rate_limit_exceeded");
    await a.ledger.record(usage("globex", 0.003, 2));
    await a.ledger.record(usage("acme", 0.5, 3));
    await a.reserveBudget(globex, 0); // 0.004 known + 0.003 queued < 0.01
    await a.ledger.record(usage("globex", 0.003, 4));
    await rejection(() => a.reserveBudget(globex, 0), 402, "budget_exceeded");
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 500, `degraded calls took ${elapsed} ms in all`);
    assert.equal(a.stats().pendingLedgerRows, 3);
    assert.ok(a.stats().limiterErrors >= 6 && a.stats().ledgerErrors >= 1);
    assert.deepEqual(
      (await a.ledger.entries("globex")).map((r) => r.at),
      [4, 2],
      "queued rows are listed while Redis is down",
    );
    await sleep(100);
    assert.ok(
      logger.warnings.some((w) => /tenants \(rate limits, ledger\): Redis .* is unavailable/.test(w)),
      logger.warnings.join(" | "),
    );

    await server.restart();
    assert.equal(await a.ready(3000), true);
    assert.equal(await b.ready(3000), true);
    for (let i = 0; i < 50 && a.stats().pendingLedgerRows > 0; i++) await sleep(20);
    assert.equal(a.stats().pendingLedgerRows, 0, "queued rows are written once Redis is back");
    // The restarted Redis kept nothing (no persistence); what it has now is the queued rows, once each.
    assert.ok(Math.abs((await b.ledger.spent("globex")) - 0.006) < 1e-12);
    assert.ok(Math.abs((await b.ledger.spent("acme")) - 0.5) < 1e-12);
    assert.deepEqual(
      (await b.ledger.entries()).map((r) => r.at),
      [4, 3, 2],
    );
    await b.checkRate(acme, 1); // shared counters again (fresh after the restart)
    await Promise.all([a.close(), b.close()]);
  });

  test("a row whose write timed out but landed (Redis hung) is retried and counted once", async () => {
    const [a, b] = await replicas(new RecordingLogger(), { timeoutMs: 100 });
    await a.ledger.record(usage("acme", 0.25, 1));
    server.pause();
    try {
      await a.ledger.record(usage("acme", 0.5, 2)); // times out after 100 ms: queued, yet Redis will run it
      assert.equal(a.stats().pendingLedgerRows, 1);
    } finally {
      server.resume();
    }
    await a.ledger.record(usage("acme", 0.125, 3)); // flushes the queued row first
    assert.equal(a.stats().pendingLedgerRows, 0);
    assert.equal(await b.ledger.spent("acme"), 0.875);
    assert.deepEqual(
      (await b.ledger.entries("acme")).map((r) => r.at),
      [3, 2, 1],
    );
    await Promise.all([a.close(), b.close()]);
  });

  test("no API key is ever stored or printed in plaintext", async () => {
    const [a, b] = await replicas();
    const acme = a.authenticate(`Bearer ${acmeKey}`);
    await a.checkRate(acme, 10);
    await b.ledger.record(usage(acme.id, 0.01));
    await a.reserveBudget(acme, 0);
    await rejection(() => a.authenticate(`Bearer ${acmeKey}0`), 401, "invalid_api_key");

    const redis = new Redis(server.url);
    const dump: string[] = [];
    for (const key of await redis.keys("*")) {
      dump.push(key);
      const type = await redis.type(key);
      if (type === "string") dump.push((await redis.get(key)) ?? "");
      else if (type === "list") dump.push(...(await redis.lrange(key, 0, -1)));
      else if (type === "hash") dump.push(JSON.stringify(await redis.hgetall(key)));
      else assert.fail(`unexpected Redis type ${type} at ${key}`);
    }
    redis.disconnect();
    assert.ok(dump.length > 5, "the replicas wrote counters and ledger rows");
    const everything = dump.join("\n") + inspect(a, { depth: 10, showHidden: true }) + JSON.stringify(acme);
    for (const key of [acmeKey, globexKey]) assert.ok(!everything.includes(key), "a plaintext key leaked");
    await Promise.all([a.close(), b.close()]);
  });
});
