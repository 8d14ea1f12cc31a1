// Rate limiters: several sliding-window counters (requests, tokens, …) checked and consumed
// together — all or nothing, so a request denied on tokens does not use up a request slot.
// In memory for one process; in Redis (one Lua script, atomic, on Redis' clock) for
// replicas sharing the limit. While Redis is unreachable the Redis limiter counts locally,
// so each replica still enforces the limit on its own traffic (see index.ts).

import type { Redis } from "ioredis";
import { rollWindow, type WindowCounter, waitMs } from "./slidingWindow.js";

export interface RateCounter {
  /** Names the counter in keys and messages, e.g. "requests", "tokens". */
  name: string;
  /** Most `amount` per window. */
  limit: number;
  /** How much this request uses. */
  amount: number;
}

export interface RateDecision {
  allowed: boolean;
  /** 0 when allowed; Infinity when the amount alone exceeds a counter's limit. */
  retryAfterMs: number;
  /** The counter that denied (the one with the longest wait). */
  deniedBy?: string;
}

export interface RateLimiter {
  /** Checks every counter of `key`; consumes all of them only when all allow. */
  consume(key: string, counters: readonly RateCounter[], windowMs: number): Promise<RateDecision>;
  /** Redis failures so far (0 for the in-memory limiter). */
  errors(): number;
}

export class MemoryRateLimiter implements RateLimiter {
  readonly #counters = new Map<string, WindowCounter>();
  readonly #now: () => number;

  /** `now`: epoch ms clock (tests pass a fake one). */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async consume(key: string, counters: readonly RateCounter[], windowMs: number): Promise<RateDecision> {
    return this.consumeNow(key, counters, windowMs);
  }

  /** The synchronous core of `consume`. */
  consumeNow(key: string, counters: readonly RateCounter[], windowMs: number): RateDecision {
    const now = this.#now();
    const index = Math.floor(now / windowMs);
    const elapsed = now - index * windowMs;
    const states = counters.map((c) => rollWindow(this.#counters.get(`${key}:${c.name}`), index));
    let decision: RateDecision = { allowed: true, retryAfterMs: 0 };
    counters.forEach((c, i) => {
      const wait = waitMs(states[i], elapsed, windowMs, c.limit, c.amount);
      if (wait > decision.retryAfterMs) decision = { allowed: false, retryAfterMs: wait, deniedBy: c.name };
    });
    if (decision.allowed)
      counters.forEach((c, i) => {
        this.#counters.set(`${key}:${c.name}`, { ...states[i], current: states[i].current + c.amount });
      });
    return decision;
  }

  errors(): number {
    return 0;
  }
}

// KEYS[i]: hash { window, current, previous } of counter i.
// ARGV[1]: window ms; ARGV[2i], ARGV[2i+1]: limit and amount of counter i.
// Returns { retryMs, deniedIndex }: {0, 0} allowed (and consumed), retryMs -1 = never fits.
const slidingWindowLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local W = tonumber(ARGV[1])
local index = math.floor(now / W)
local elapsed = now - index * W
local states = {}
local retry, denied = 0, 0
for i = 1, #KEYS do
  local limit, amount = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local h = redis.call('HMGET', KEYS[i], 'window', 'current', 'previous')
  local w, cur, prev = tonumber(h[1]), tonumber(h[2]) or 0, tonumber(h[3]) or 0
  if w == nil or w < index - 1 then cur, prev = 0, 0
  elseif w == index - 1 then cur, prev = 0, cur end
  states[i] = { cur, prev, amount }
  local wait
  if amount > limit then wait = math.huge
  elseif prev * (W - elapsed) / W + cur + amount <= limit + limit * 1e-9 + 1e-9 then wait = 0
  elseif cur + amount <= limit then wait = math.max(1, math.ceil(W - elapsed - (limit - cur - amount) * W / prev))
  else wait = W - elapsed + math.max(0, math.ceil(W - (limit - amount) * W / cur)) end
  if wait > retry then retry, denied = wait, i end
end
if retry == math.huge then return { -1, denied } end
if retry > 0 then return { retry, denied } end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 'window', index, 'current', states[i][1] + states[i][3], 'previous', states[i][2])
  redis.call('PEXPIRE', KEYS[i], 2 * W)
end
return { 0, 0 }
`;

export interface RedisRateLimiterOptions {
  /** Key prefix, e.g. "aigc:"; counters live at `<prefix>rate:<key>:<counter>`. */
  prefix: string;
}

export class RedisRateLimiter implements RateLimiter {
  readonly #prefix: string;
  readonly #script: LuaScript;
  readonly #fallback: MemoryRateLimiter;
  #errors = 0;

  constructor(redis: Redis, options: RedisRateLimiterOptions) {
    this.#prefix = options.prefix;
    this.#script = new LuaScript(redis, slidingWindowLua);
    this.#fallback = new MemoryRateLimiter();
  }

  async consume(key: string, counters: readonly RateCounter[], windowMs: number): Promise<RateDecision> {
    if (counters.length === 0) return { allowed: true, retryAfterMs: 0 };
    const keys = counters.map((c) => `${this.#prefix}rate:${key}:${c.name}`);
    const args = [windowMs, ...counters.flatMap((c) => [c.limit, c.amount])];
    let reply: unknown;
    try {
      reply = await this.#script.run(keys, args);
    } catch {
      this.#errors++;
      return this.#fallback.consumeNow(key, counters, windowMs);
    }
    const [retry, deniedIndex] = reply as [number, number];
    if (retry === 0) return { allowed: true, retryAfterMs: 0 };
    return {
      allowed: false,
      retryAfterMs: retry < 0 ? Number.POSITIVE_INFINITY : retry,
      deniedBy: counters[deniedIndex - 1]?.name,
    };
  }

  errors(): number {
    return this.#errors;
  }
}

/** A Lua script run by its SHA1, loaded again when Redis answers NOSCRIPT (e.g. after a restart). */
export class LuaScript {
  readonly #redis: Redis;
  readonly #source: string;
  #sha: string | undefined;

  constructor(redis: Redis, source: string) {
    this.#redis = redis;
    this.#source = source;
  }

  async run(keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (this.#sha) {
      try {
        return await this.#redis.evalsha(this.#sha, keys.length, ...keys, ...args);
      } catch (e) {
        if (!(e instanceof Error && e.message.startsWith("NOSCRIPT"))) throw e;
      }
    }
    this.#sha = String(await this.#redis.script("LOAD", this.#source));
    return this.#redis.evalsha(this.#sha, keys.length, ...keys, ...args);
  }
}
