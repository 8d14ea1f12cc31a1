// Sliding-window rate counting, the approximation Cloudflare and Redis' own docs use: two
// fixed windows of length W, and the count at time t (elapsed e into the current window)
// is `previous * (W - e) / W + current`. O(1) state per counter, no burst of 2x the limit
// at a window boundary as with plain fixed windows. rateLimiter.ts holds the same
// arithmetic in Lua for Redis; keep the two in step.

/** One counter's state: the index of the window `current` belongs to (floor(t / W)). */
export interface WindowCounter {
  window: number;
  current: number;
  previous: number;
}

/** The counter as seen from window `index`: older windows slide out. */
export function rollWindow(state: WindowCounter | undefined, index: number): WindowCounter {
  if (!state || state.window < index - 1) return { window: index, current: 0, previous: 0 };
  if (state.window === index - 1) return { window: index, current: 0, previous: state.current };
  return state;
}

/**
 * Milliseconds to wait until `amount` more fits under `limit` (0: it fits now; Infinity:
 * it never will, amount > limit). `state` must already be rolled to the current window;
 * `elapsedMs` is the time since that window began.
 */
export function waitMs(state: WindowCounter, elapsedMs: number, windowMs: number, limit: number, amount: number): number {
  if (amount > limit) return Number.POSITIVE_INFINITY;
  const slack = limit * 1e-9 + 1e-9; // float rounding must not turn "exactly at the limit" into a denial
  const weighted = (state.previous * (windowMs - elapsedMs)) / windowMs + state.current;
  if (weighted + amount <= limit + slack) return 0;
  // Fits later in this window, once enough of `previous` has slid out.
  if (state.current + amount <= limit)
    return Math.max(1, Math.ceil(windowMs - elapsedMs - ((limit - state.current - amount) * windowMs) / state.previous));
  // Needs the next window, where `current` becomes the sliding-out part.
  return windowMs - elapsedMs + Math.max(0, Math.ceil(windowMs - ((limit - amount) * windowMs) / state.current));
}
