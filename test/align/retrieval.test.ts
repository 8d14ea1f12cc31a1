// Retrieval metrics on hand-made similarity matrices: only the true pair counts, ties
// count against the query, and both directions are read from the same matrix.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { retrievalMetrics, similarityMatrix } from "../../src/train/retrieval.js";

test("identity similarities: every query finds its partner first", () => {
  const n = 4;
  const sim = Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
  assert.deepEqual(retrievalMetrics(sim, n), { i2t: { r1: 1, r5: 1, r10: 1 }, t2i: { r1: 1, r5: 1, r10: 1 }, n });
});

test("ranks by hand: image→text reads rows, text→image reads columns", () => {
  // rows = images, columns = texts; the diagonal holds the true pairs.
  const sim = [
    [0.9, 0.1, 0.2], // image 0: its text ranks 1st
    [0.8, 0.5, 0.9], // image 1: its text (0.5) ranks 3rd
    [0.1, 0.3, 0.2], // image 2: its text (0.2) ranks 2nd
  ].flat();
  const m = retrievalMetrics(sim, 3);
  assert.deepEqual(m.i2t, { r1: 1 / 3, r5: 1, r10: 1 });
  // text 0: column [0.9, 0.8, 0.1] -> 1st; text 1: [0.1, 0.5, 0.3] -> 1st; text 2: [0.2, 0.9, 0.2] -> 0.2 ties 0.2 and trails 0.9: 3rd.
  assert.deepEqual(m.t2i, { r1: 2 / 3, r5: 1, r10: 1 });
});

test("R@5 and R@10 cut at exactly k, and constant similarities score nothing", () => {
  const n = 12;
  // Image q's true text gets rank q + 1: texts j < q score higher than the diagonal.
  const sim = Array.from({ length: n * n }, (_, i) => {
    const [q, j] = [Math.floor(i / n), i % n];
    return j === q ? 0 : j < q ? 1 : -1;
  });
  const m = retrievalMetrics(sim, n);
  assert.deepEqual(m.i2t, { r1: 1 / n, r5: 5 / n, r10: 10 / n });
  const flat = retrievalMetrics(new Array(n * n).fill(0.5), n);
  assert.deepEqual(flat.i2t, { r1: 0, r5: 0, r10: 0 });
  assert.deepEqual(flat.t2i, { r1: 0, r5: 0, r10: 0 });
});

test("R@1 of a random matrix equals the count of rows whose diagonal is the strict maximum", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 9 }), fc.infiniteStream(fc.integer({ min: 0, max: 4 })), (n, values) => {
      const sim = [...values.take(n * n)];
      let hits = 0;
      for (let q = 0; q < n; q++) if (sim.slice(q * n, q * n + n).every((v, j) => j === q || v < sim[q * n + q])) hits++;
      const m = retrievalMetrics(sim, n);
      return m.i2t.r1 === hits / n && m.i2t.r1 <= m.i2t.r5 && m.i2t.r5 <= m.i2t.r10;
    }),
  );
});

test("similarityMatrix is a · bᵀ, and bad sizes are rejected", () => {
  assert.deepEqual([...similarityMatrix([1, 0, 0, 1], [0.5, 0.5, 1, -1], 2, 2)], [0.5, 1, 0.5, -1]);
  assert.throws(() => retrievalMetrics([1, 2, 3], 2), /3 similarities for 2 pairs, expected 4/);
  assert.throws(() => similarityMatrix([1], [1, 2], 1, 2), /expected two \[1, 2\] matrices/);
});
