// The Kneser-Ney anchor: a proper distribution for every history, the textbook numbers on a
// corpus small enough to count by hand, and better than uniform on text it has seen.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { KneserNeyLm } from "../../src/train/index.js";

test("P(· | history) sums to 1 over the vocabulary for every history, seen or not", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 6 }),
      (streams, order, history) => {
        const lm = KneserNeyLm.train(streams, { order, vocab: 6 });
        let total = 0;
        for (let w = 0; w < 6; w++) {
          const p = lm.probability(history, w);
          assert.ok(p > 0 && p <= 1, `P(${w}) = ${p}`);
          total += p;
        }
        assert.ok(Math.abs(total - 1) < 1e-9, `sum ${total}`);
      },
    ),
  );
});

test("a bigram model counted by hand: discounts, continuation counts and the uniform floor", () => {
  // tokens: a=0 b=1 c=2, vocab 4 (token 3 never seen)
  const lm = KneserNeyLm.train([[0, 1, 0, 1, 0, 2]], { order: 2, vocab: 4 });
  // bigrams: ab ×2, ba ×2, ac ×1. Counts of counts n1 = 1, n2 = 2: too few for the estimate,
  // so the fixed discounts 0.5 / 1 / 1.5 apply.
  // unigram continuation counts: a ← {b, start} = 2, b ← {a} = 1, c ← {a} = 1; total 4, and
  // its own counts of counts (n1 = 2, n2 = 1) are also too few: D1 = 0.5, D2 = 1.
  // unigram: P(w) = max(N(w) − D, 0) / 4 + γ / 4, γ = (0.5·2 + 1·1) / 4 = 0.5
  const uni = (w: number) => [Math.max(2 - 1, 0) / 4, (1 - 0.5) / 4, (1 - 0.5) / 4, 0][w] + 0.5 * 0.25;
  // after a: c(ab) = 2, c(ac) = 1, total 3, γ(a) = (0.5·1 + 1·1) / 3 = 0.5
  const afterA = (w: number) => [0, (2 - 1) / 3, (1 - 0.5) / 3, 0][w] + 0.5 * uni(w);
  for (let w = 0; w < 4; w++) assert.ok(Math.abs(lm.probability([0], w) - afterA(w)) < 1e-12, `P(${w} | a)`);
  // an unseen history falls back to the unigram
  for (let w = 0; w < 4; w++) assert.ok(Math.abs(lm.probability([3], w) - uni(w)) < 1e-12, `P(${w} | unseen)`);
});

test("on text it was counted on it beats the uniform model; the 5-gram beats the bigram there", () => {
  const text = Array.from("the cat sat on the mat and the cat ate the rat ".repeat(20), (c) => c.charCodeAt(0) - 32);
  const vocab = 96;
  const five = KneserNeyLm.train([text], { order: 5, vocab });
  const two = KneserNeyLm.train([text], { order: 2, vocab });
  const sample = [text.slice(0, 200)];
  assert.ok(five.crossEntropy(sample) < two.crossEntropy(sample));
  assert.ok(two.crossEntropy(sample) < Math.log(vocab));
  assert.throws(() => KneserNeyLm.train([text], { order: 0, vocab }), /order must be a positive integer/);
});
