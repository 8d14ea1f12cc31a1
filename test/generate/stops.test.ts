// Stop strings and streaming holdback on decoded text: the helpers, the matcher against a
// character-by-character reference for any chunking (fast-check), maximal emission while
// holding back partial stop prefixes, and incomplete UTF-8 characters (trailing U+FFFD).

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { findStop, partialStopLength, StopMatcher, trailingReplacementCount } from "../../src/generate/index.js";

const R = "\uFFFD";

/** Reference: grow the text one character at a time; the first stop string to appear cuts it. */
function referenceCut(text: string, stops: string[]): { text: string; stopped: boolean } {
  for (let end = 1; end <= text.length; end++) {
    const prefix = text.slice(0, end);
    const hits = stops.filter((s) => prefix.endsWith(s));
    if (hits.length > 0) return { text: text.slice(0, end - Math.max(...hits.map((s) => s.length))), stopped: true };
  }
  return { text, stopped: false };
}

/** Feeds `text` to a matcher in chunks ending at `cuts`; returns the deltas and whether it stopped. */
function runMatcher(text: string, stops: string[], cuts: number[]): { deltas: string[]; stopped: boolean; matcher: StopMatcher } {
  const matcher = new StopMatcher(stops);
  const deltas: string[] = [];
  const ends = [...new Set([...cuts.map((c) => c % (text.length + 1)), text.length])].sort((a, b) => a - b);
  for (const end of ends) {
    const seen = text.slice(0, end);
    const { delta, stopped } = matcher.update(seen);
    deltas.push(delta);
    if (stopped) return { deltas, stopped, matcher };
    // Everything but the longest partial stop prefix is out (no U+FFFD in these texts).
    assert.equal(matcher.text, seen.slice(0, seen.length - partialStopLength(seen, stops)));
  }
  deltas.push(matcher.finish(text));
  return { deltas, stopped: false, matcher };
}

test("findStop finds the occurrence that ends first; partialStopLength the longest held-back suffix", () => {
  assert.deepEqual(findStop("hello world", ["wor", "lo"]), { index: 3, stop: "lo" });
  assert.deepEqual(findStop("abcd", ["abcd", "c"]), { index: 2, stop: "c" });
  assert.deepEqual(findStop("xabc", ["abc", "bc"]), { index: 1, stop: "abc" });
  assert.equal(findStop("hello", ["lo"], 4), null);
  assert.equal(partialStopLength("say hel", ["hello", "lx"]), 3);
  assert.equal(partialStopLength("say hello", ["hello"]), 0); // a whole stop string is not a *partial* one
  assert.equal(partialStopLength("", ["a"]), 0);
  assert.equal(trailingReplacementCount(`ab${R}${R}`), 2);
  assert.equal(trailingReplacementCount(`a${R}b`), 0);
});

test("the matcher cuts at the first stop string whatever the chunking, never emits it, and holds back no more than needed", () => {
  const text = fc.string({ unit: fc.constantFrom("a", "b", "c"), maxLength: 30 });
  const stops = fc.array(fc.string({ unit: fc.constantFrom("a", "b", "c"), minLength: 1, maxLength: 4 }), { maxLength: 3 });
  fc.assert(
    fc.property(text, stops, fc.array(fc.nat(40), { maxLength: 10 }), (t, s, cuts) => {
      const want = referenceCut(t, s);
      const { deltas, stopped, matcher } = runMatcher(t, s, cuts);
      assert.equal(deltas.join(""), want.text);
      assert.equal(matcher.text, want.text);
      assert.equal(stopped, want.stopped);
      for (const stop of s) assert.ok(!matcher.text.includes(stop), `emitted ${JSON.stringify(stop)}`);
    }),
    { numRuns: 500 },
  );
});

test("a partial stop prefix is held back until disambiguated, then released", () => {
  const m = new StopMatcher(["\n\nUser:"]);
  assert.deepEqual(m.update("Hi"), { delta: "Hi", stopped: false });
  assert.deepEqual(m.update("Hi\n"), { delta: "", stopped: false });
  assert.deepEqual(m.update("Hi\n\nUs"), { delta: "", stopped: false });
  assert.deepEqual(m.update("Hi\n\nUsx"), { delta: "\n\nUsx", stopped: false });
  assert.deepEqual(m.update("Hi\n\nUsx\n\nUser: more"), { delta: "", stopped: true });
  assert.equal(m.text, "Hi\n\nUsx");
  assert.equal(m.done, true);
  assert.throws(() => m.update("more"), /after the row finished/);
});

test("the held-back prefix is emitted when the row ends for another reason", () => {
  const m = new StopMatcher(["END"]);
  assert.equal(m.update("the EN").delta, "the ");
  assert.equal(m.finish("the EN"), "EN");
  assert.equal(m.text, "the EN");
});

test("trailing U+FFFD (an incomplete UTF-8 character) is held back until completed", () => {
  const m = new StopMatcher([]);
  assert.equal(m.update(R).delta, "");
  assert.equal(m.update(R).delta, "");
  assert.equal(m.update("你").delta, "你");
  assert.equal(m.update(`你${R}`).delta, "");
  assert.equal(m.update(`你好a${R}`).delta, "好a");
  assert.equal(m.finish(`你好a${R}`), R); // never completed: it is real
  assert.equal(m.text, `你好a${R}`);
});

test("a stop string with a multi-byte character: the partial character and the prefix before it are held", () => {
  const m = new StopMatcher(["b好"]);
  assert.equal(m.update("ab").delta, "a");
  assert.equal(m.update(`ab${R}`).delta, "");
  assert.deepEqual(m.update("ab好"), { delta: "", stopped: true });
  assert.equal(m.text, "a");
});

test("empty stop strings are rejected", () => {
  assert.throws(() => new StopMatcher(["ok", ""]), /stop\[1\] is an empty string/);
});
