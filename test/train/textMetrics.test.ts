// BLEU-4 and ROUGE-L against values worked out by hand from their definitions.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { corpusBleu, lcsLength, metricTokens, rougeL } from "../../src/train/textMetrics.js";

const words = (s: string) => s.split(" ");

test("BLEU-4: clipped n-gram precisions, geometric mean, brevity penalty", () => {
  const r = corpusBleu([words("the cat sat on the mat today")], [words("the cat sat on the mat")]);
  assert.deepEqual(r.precisions, [6 / 7, 5 / 6, 4 / 5, 3 / 4]);
  assert.equal(r.brevityPenalty, 1);
  assert.ok(Math.abs(r.bleu - (3 / 7) ** 0.25) < 1e-12);
  const short = corpusBleu([words("the cat sat on the")], [words("the cat sat on the mat")]);
  assert.ok(Math.abs(short.brevityPenalty - Math.exp(1 - 6 / 5)) < 1e-12);
  assert.ok(Math.abs(short.bleu - Math.exp(1 - 6 / 5)) < 1e-12, "all n-grams of the short hypothesis match");
  // Clipping: "the the the" matches "the" only as often as the reference has it.
  assert.equal(corpusBleu([words("the the the the")], [words("the cat")]).precisions[0], 1 / 4);
  assert.equal(corpusBleu([words("no four gram here")], [words("no four gram")]).bleu, 0);
  // Corpus level: counts add up over sentences before dividing.
  const corpus = corpusBleu([words("a b c d"), words("e f g h")], [words("a b c d"), words("e f x h")]);
  assert.deepEqual(corpus.precisions, [7 / 8, 4 / 6, 2 / 4, 1 / 2]);
  assert.equal(corpusBleu([words("x y z w")], [words("x y z w")]).bleu, 1);
});

test("ROUGE-L: LCS F-measure", () => {
  assert.equal(lcsLength(words("a b c d"), words("a c d e")), 3);
  assert.equal(rougeL(words("a b c d"), words("a c d e")), 0.75);
  assert.equal(rougeL(words("a b"), words("c d")), 0);
  assert.ok(Math.abs(rougeL(words("a b c"), words("a b c d e f")) - (2 * 1 * 0.5) / 1.5) < 1e-12);
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 12 }),
      fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 12 }),
      (a, b) => {
        const l = lcsLength(a, b);
        return l === lcsLength(b, a) && l <= Math.min(a.length, b.length) && lcsLength(a, a) === a.length;
      },
    ),
  );
});

test("metric tokens: words, numbers with decimals, punctuation; Chinese by character", () => {
  assert.deepEqual(metricTokens("A 14 mm nodule, ratio 0.55."), ["a", "14", "mm", "nodule", ",", "ratio", "0.55", "."]);
  assert.deepEqual(metricTokens("右肺上叶见14 mm结节。"), ["右", "肺", "上", "叶", "见", "14", "mm", "结", "节", "。"]);
});
