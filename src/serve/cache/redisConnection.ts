// One way to open Redis for the serving layer: fail fast instead of queueing. While Redis
// is unreachable every command rejects at once (no offline queue, no retries per request,
// a short command timeout), so callers can fall back within milliseconds; the client keeps
// reconnecting in the background (backoff capped at 500 ms) and picks up where it left off.
// Up/down transitions are logged once each, not once per failed command.

import { Redis } from "ioredis";
import type { ServeLogger } from "./responseCache.js";

export interface RedisConnectionOptions {
  url: string;
  /** A command that gets no reply within this many ms rejects (covers a hung server). */
  commandTimeoutMs: number;
  /** Who uses the connection, for log lines, e.g. "response cache". */
  purpose: string;
  logger: ServeLogger;
}

export const maxReconnectDelayMs = 500;

/** Clients being closed on purpose: their "close" event is not an outage. */
const closing = new WeakSet<Redis>();

export function connectRedis(options: RedisConnectionOptions): Redis {
  const redis = new Redis(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: Math.max(1000, options.commandTimeoutMs),
    retryStrategy: (attempt) => Math.min(50 * attempt, maxReconnectDelayMs),
  });
  const where = `${options.purpose}: Redis at ${redactedUrl(options.url)}`;
  let up = false;
  let reportedDown = false;
  const markDown = (reason: string) => {
    if (reportedDown) return;
    up = false;
    reportedDown = true;
    options.logger.warn(`${where} is unavailable (${reason}); falling back until it reconnects`);
  };
  redis.on("ready", () => {
    if (reportedDown) options.logger.info(`${where} is reachable again`);
    up = true;
    reportedDown = false;
  });
  redis.on("error", (e: Error) => markDown(e.message));
  redis.on("close", () => {
    if (up && !closing.has(redis)) markDown("connection closed");
  });
  return redis;
}

/** Resolves true once the client is ready, false if it is not within `timeoutMs`. */
export function waitForRedis(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      redis.off("ready", onReady);
      resolve(false);
    }, timeoutMs);
    redis.once("ready", onReady);
  });
}

/** Closes the client whether or not Redis is reachable; never throws. */
export async function closeRedis(redis: Redis): Promise<void> {
  closing.add(redis);
  if (redis.status === "ready") {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  redis.disconnect();
}

function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}
