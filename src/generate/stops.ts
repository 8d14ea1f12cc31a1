// Stop sequences and streaming text, on decoded text rather than token ids (a stop string
// may span several tokens, and a token may hold part of a stop string and part of the
// text before it). As in OpenAI's API the stop string itself is never emitted, and while
// the end of the text could still grow into a stop string that part is held back.
//
// Tokens may also end inside a multi-byte UTF-8 character: the decoder then ends the text
// with U+FFFD, which the next token may turn into the real character. Trailing U+FFFD are
// held back until that happens (or until generation ends, when they are real).
//
// The matcher is fed the whole generated text each time. It assumes the decoder is stable on
// prefixes: decoding more tokens only changes the text after the last trailing U+FFFD run.

/** The replacement character a UTF-8 decoder puts in place of an incomplete sequence. */
export const replacementChar = "\uFFFD";

/**
 * The occurrence of a stop string in `text`, starting at or after `from`, that ends first (on a
 * tie, the one that starts first), or null. Ending first is what a reader growing the text one
 * character at a time would see first, so the result does not depend on how the text is chunked.
 */
export function findStop(text: string, stops: readonly string[], from = 0): { index: number; stop: string } | null {
  let best: { index: number; stop: string } | null = null;
  for (const stop of stops) {
    const index = text.indexOf(stop, from);
    if (index < 0) continue;
    const end = index + stop.length;
    const bestEnd = best === null ? Number.POSITIVE_INFINITY : best.index + best.stop.length;
    if (end < bestEnd || (end === bestEnd && best !== null && index < best.index)) best = { index, stop };
  }
  return best;
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop string (0 if none). */
export function partialStopLength(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const stop of stops) {
    for (let len = Math.min(stop.length - 1, text.length); len > longest; len--) {
      if (text.endsWith(stop.slice(0, len))) {
        longest = len;
        break;
      }
    }
  }
  return longest;
}

/** Number of U+FFFD characters at the end of `text` (possibly an incomplete UTF-8 character). */
export function trailingReplacementCount(text: string): number {
  let n = 0;
  while (n < text.length && text[text.length - 1 - n] === replacementChar) n++;
  return n;
}

/** What `StopMatcher.update` found: the newly printable text, and whether a stop string appeared. */
export interface StopUpdate {
  /** Text that became printable with this update (may be empty). */
  delta: string;
  /** A stop string appeared; `delta` ends right before it and the row is finished. */
  stopped: boolean;
}

/**
 * Incremental stop-string matcher and streaming holdback for one row. Call `update` with the
 * whole generated text after each token, and `finish` once when the row ends for another
 * reason (length, eos) to release what was held back. The emitted deltas concatenate to `text`.
 */
export class StopMatcher {
  readonly stops: readonly string[];
  #emitted = "";
  #done = false;

  constructor(stops: readonly string[]) {
    const empty = stops.findIndex((s) => s.length === 0);
    if (empty >= 0) throw new RangeError(`stop[${empty}] is an empty string; stop strings must be non-empty`);
    this.stops = [...stops];
  }

  /** The text emitted so far (the final text once the row is done). */
  get text(): string {
    return this.#emitted;
  }

  /** Whether a stop string was found or `finish` was called. */
  get done(): boolean {
    return this.#done;
  }

  /** Feed the whole generated text so far; returns the new printable delta. */
  update(text: string): StopUpdate {
    if (this.#done) throw new Error("StopMatcher.update called after the row finished");
    const from = this.#emitted.length;
    // An occurrence cannot start inside the emitted text: its start would have been held back.
    const hit = findStop(text, this.stops, from);
    if (hit) {
      this.#done = true;
      return { delta: this.#emit(text, hit.index), stopped: true };
    }
    const complete = text.length - trailingReplacementCount(text);
    const safeEnd = Math.max(from, complete - partialStopLength(text.slice(0, complete), this.stops));
    return { delta: this.#emit(text, safeEnd), stopped: false };
  }

  /** The row ended without a stop string: release everything held back of the final `text`. */
  finish(text: string): string {
    if (this.#done) throw new Error("StopMatcher.finish called after the row finished");
    this.#done = true;
    return this.#emit(text, Math.max(this.#emitted.length, text.length));
  }

  #emit(text: string, end: number): string {
    const delta = text.slice(this.#emitted.length, end);
    this.#emitted += delta;
    return delta;
  }
}
