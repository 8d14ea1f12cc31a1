// The samplers against plain-loop references and their defining properties (fast-check):
// greedy = argmax, top-k keeps exactly k, top-p keeps a minimal set with mass ≥ p, min-p,
// repetition penalty, temperature; inputs never mutated; the HF order of the warpers; draw
// frequencies converge to the softmax probabilities; seeded determinism; errors.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  applyMask,
  applyRepetitionPenalty,
  applyTemperature,
  greedy,
  minPFilter,
  sampleFromLogits,
  sampleToken,
  softmax,
  topKFilter,
  topPFilter,
} from "../../src/generate/index.js";
import { Rng } from "../../src/runtime/rng.js";

const NEG = Number.NEGATIVE_INFINITY;

/** Logits [V] with ties (half-integers), arbitrary values and removed (-Infinity) tokens; at least one finite. */
const logitsArb = fc
  .array(
    fc.oneof(
      fc.integer({ min: -6, max: 6 }).map((x) => x / 2),
      fc.double({ min: -30, max: 30, noNaN: true }),
      fc.constant(NEG),
    ),
    { minLength: 1, maxLength: 24 },
  )
  .filter((a) => a.some(Number.isFinite))
  .map((a) => Float32Array.from(a));

const finiteIndices = (x: Float32Array): number[] => [...x.keys()].filter((i) => x[i] !== NEG);

/** Reference argmax: a plain loop, lowest index on ties. */
function refArgmax(x: Float32Array): number {
  let best = -1;
  for (let i = 0; i < x.length; i++) if (x[i] !== NEG && (best < 0 || x[i] > x[best])) best = i;
  return best;
}

/** Empirical frequencies of `draws` samples. */
function frequencies(draw: () => number, v: number, draws: number): number[] {
  const counts = new Array<number>(v).fill(0);
  for (let i = 0; i < draws; i++) counts[draw()]++;
  return counts.map((c) => c / draws);
}

function assertFrequencies(got: number[], want: Float64Array, tolerance: number): void {
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) < tolerance, `token ${i}: ${got[i]} vs ${want[i]}`);
}

test("softmax: stable for large logits, -Infinity gets 0, +Infinity gets all the mass, sums to 1", () => {
  assert.deepEqual([...softmax(Float32Array.from([1000, 1000]))], [0.5, 0.5]);
  assert.deepEqual([...softmax(Float32Array.from([-1000, -1000, NEG]))], [0.5, 0.5, 0]);
  assert.deepEqual([...softmax(Float32Array.from([0, Number.POSITIVE_INFINITY, 5, Number.POSITIVE_INFINITY]))], [0, 0.5, 0, 0.5]);
  fc.assert(
    fc.property(logitsArb, (x) => {
      const p = softmax(x);
      const sum = p.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-12, `sum ${sum}`);
      for (let i = 0; i < x.length; i++) if (x[i] === NEG) assert.equal(p[i], 0);
    }),
  );
});

test("greedy is the argmax with the lowest index on ties", () => {
  assert.equal(greedy(Float32Array.from([1, 3, 3, NEG])), 1);
  assert.equal(greedy(Float32Array.from([NEG, -5, NEG])), 1);
  fc.assert(fc.property(logitsArb, (x) => assert.equal(greedy(x), refArgmax(x))));
});

test("top-k keeps exactly min(k, #finite) logits, the highest, ties to the lower index, values unchanged", () => {
  fc.assert(
    fc.property(logitsArb, fc.nat(30), (x, k) => {
      const out = topKFilter(x, k);
      const kept = finiteIndices(out);
      const finite = finiteIndices(x);
      const expected = k === 0 || k >= x.length ? finite.length : Math.min(k, finite.length);
      assert.equal(kept.length, expected);
      for (const i of kept) assert.equal(out[i], x[i]);
      for (const j of finite) {
        if (out[j] !== NEG) continue;
        for (const i of kept) {
          assert.ok(x[i] >= x[j], `kept ${i} (${x[i]}) below dropped ${j} (${x[j]})`);
          if (x[i] === x[j]) assert.ok(i < j, `tie: kept ${i} should have a lower index than dropped ${j}`);
        }
      }
    }),
  );
});

test("top-p keeps the minimal most-likely set with probability ≥ p (at least one token)", () => {
  fc.assert(
    fc.property(logitsArb, fc.double({ min: 0.01, max: 1, noNaN: true }), (x, p) => {
      const probs = softmax(x);
      const out = topPFilter(x, p);
      const kept = finiteIndices(out);
      assert.ok(kept.length >= 1);
      for (const i of kept) assert.equal(out[i], x[i]);
      const keptProbs = kept.map((i) => probs[i]);
      const mass = keptProbs.reduce((a, b) => a + b, 0);
      const smallest = Math.min(...keptProbs);
      if (p < 1) {
        assert.ok(mass >= p - 1e-9, `kept mass ${mass} < p ${p}`);
        assert.ok(mass - smallest < p + 1e-9, `not minimal: ${mass} - ${smallest} still ≥ ${p}`);
      } else {
        assert.equal(kept.length, finiteIndices(x).length);
      }
      for (const j of finiteIndices(x))
        if (out[j] === NEG) assert.ok(probs[j] <= smallest, `dropped ${j} more likely than a kept token`);
    }),
  );
  // Equal probabilities at the boundary: the lower indices are kept.
  assert.deepEqual([...topPFilter(Float32Array.from([0, 0, 0, 0]), 0.5)], [0, 0, NEG, NEG]);
  assert.deepEqual([...topPFilter(Float32Array.from([0, 5, 0]), 0.01)], [NEG, 5, NEG]);
});

test("min-p keeps exactly the tokens with probability ≥ minP × the top probability", () => {
  fc.assert(
    fc.property(logitsArb, fc.double({ min: 0, max: 1, noNaN: true }), (x, minP) => {
      const probs = softmax(x);
      const top = Math.max(...probs);
      const out = minPFilter(x, minP);
      for (let i = 0; i < x.length; i++) assert.equal(out[i], probs[i] >= minP * top ? x[i] : NEG);
      assert.notEqual(out[refArgmax(x)], NEG);
    }),
  );
});

test("repetition penalty matches a plain-loop reference (HF semantics)", () => {
  fc.assert(
    fc.property(logitsArb, fc.array(fc.nat(30)), fc.double({ min: 0.1, max: 5, noNaN: true }), (x, history, penalty) => {
      const out = applyRepetitionPenalty(x, history, penalty);
      for (let i = 0; i < x.length; i++) {
        const seen = history.includes(i);
        const want = !seen ? x[i] : x[i] < 0 ? x[i] * penalty : x[i] / penalty;
        assert.equal(out[i], Math.fround(want), `token ${i}`);
      }
    }),
  );
  assert.deepEqual([...applyRepetitionPenalty(Float32Array.from([2, -2, 2, NEG]), [0, 1, 0, 3], 2)], [1, -4, 2, NEG]);
});

test("temperature divides the logits; -Infinity stays removed", () => {
  fc.assert(
    fc.property(logitsArb, fc.double({ min: 0.05, max: 10, noNaN: true }), (x, t) => {
      const out = applyTemperature(x, t);
      for (let i = 0; i < x.length; i++) assert.equal(out[i], Math.fround(x[i] / t));
    }),
  );
});

test("no sampler mutates its input", () => {
  fc.assert(
    fc.property(logitsArb, fc.nat(1000), (x, seed) => {
      const before = Float32Array.from(x);
      applyRepetitionPenalty(x, [0, 1, 2], 1.5);
      applyTemperature(x, 0.7);
      topKFilter(x, 2);
      topPFilter(x, 0.5);
      minPFilter(x, 0.2);
      applyMask(x, new Uint8Array(x.length).fill(1));
      softmax(x);
      sampleToken(x, { temperature: 0.8, topK: 3, topP: 0.9, minP: 0.05, repetitionPenalty: 1.3 }, new Rng(seed), [0]);
      assert.deepEqual(x, before);
    }),
  );
});

test("a removed (-Infinity or masked) token is never sampled", () => {
  fc.assert(
    fc.property(logitsArb, fc.nat(1 << 30), (x, seed) => {
      const rng = new Rng(seed);
      for (let i = 0; i < 20; i++) assert.notEqual(x[sampleFromLogits(x, rng)], NEG);
    }),
  );
  const allowed = Uint8Array.from([0, 1, 0, 1]);
  const rng = new Rng(3);
  for (let i = 0; i < 200; i++) {
    const t = sampleToken(applyMask(Float32Array.from([9, 0, 9, 0]), allowed), {}, rng);
    assert.ok(t === 1 || t === 3);
  }
});

test("sampling frequencies with a fixed seed converge to the softmax probabilities", () => {
  const draws = 100_000;
  const tolerance = 0.01; // ≥ 6 standard deviations of a frequency at this many draws
  const x = Float32Array.from([1, 2, 0.5, -1, NEG, 3]);
  const rng = new Rng(1234);
  const want = softmax(x);
  const got = frequencies(() => sampleFromLogits(x, rng), x.length, draws);
  assertFrequencies(got, want, tolerance);

  // The full pipeline: the draws follow softmax of the warped logits.
  const opts = { temperature: 0.7, topK: 4, topP: 0.95, repetitionPenalty: 1.4 };
  const history = [5, 1];
  const warped = topPFilter(topKFilter(applyTemperature(applyRepetitionPenalty(x, history, 1.4), 0.7), 4), 0.95);
  const wantWarped = softmax(warped);
  const rng2 = Rng.forName(7, "freq");
  const gotWarped = frequencies(() => sampleToken(x, opts, rng2, history), x.length, draws);
  assertFrequencies(gotWarped, wantWarped, tolerance);
});

test("seeded determinism: the same seed gives the same draws, another seed other draws", () => {
  const x = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
  const run = (seed: number) => {
    const rng = Rng.forName(seed, "row 0");
    return Array.from({ length: 50 }, () => sampleToken(x, { temperature: 1.5 }, rng));
  };
  assert.deepEqual(run(11), run(11));
  assert.notDeepEqual(run(11), run(12));
});

test("temperature 0 is greedy after the repetition penalty and draws nothing from the rng", () => {
  const x = Float32Array.from([1, 4, 3.9, -2]);
  const rng = new Rng(5);
  assert.equal(sampleToken(x, { temperature: 0 }, rng), 1);
  assert.equal(sampleToken(x, { temperature: 0, repetitionPenalty: 1.2 }, rng, [1]), 2); // 4 / 1.2 < 3.9
  assert.equal(rng.next(), new Rng(5).next());
});

test("the warpers run in the HF order: top-k before top-p", () => {
  // probabilities [0.5, 0.3, 0.2]: top-k 2 renormalizes to [0.625, 0.375], then top-p 0.6 keeps token 0
  // only. (Top-p first would keep tokens 0 and 1.)
  const x = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
  const rng = new Rng(9);
  for (let i = 0; i < 500; i++) assert.equal(sampleToken(x, { topK: 2, topP: 0.6 }, rng), 0);
});

test("errors: NaN logits, nothing left to sample, bad parameter values", () => {
  const rng = new Rng(1);
  assert.throws(() => greedy(Float32Array.from([0, Number.NaN])), /logits\[1\] is NaN/);
  assert.throws(() => greedy(Float32Array.from([Number.NaN, 0])), /logits\[0\] is NaN/);
  for (const temperature of [1, 0.8])
    assert.throws(() => sampleToken(Float32Array.from([1, Number.NaN, 0]), { temperature }, rng), /logits\[1\] is NaN/);
  assert.throws(() => sampleToken(Float32Array.from([NEG, NEG]), {}, rng), /every logit is -Infinity/);
  assert.throws(() => sampleToken(Float32Array.from([NEG, NEG]), { temperature: 0 }, rng), /every logit is -Infinity/);
  assert.throws(() => sampleToken(Float32Array.from([1, 2]), { temperature: -1 }, rng), /temperature must be/);
  assert.throws(() => topKFilter(Float32Array.from([1]), 1.5), /topK must be an integer/);
  assert.throws(() => topPFilter(Float32Array.from([1]), 0), /topP must be in \(0, 1\]/);
  assert.throws(() => minPFilter(Float32Array.from([1]), 2), /minP must be in \[0, 1\]/);
  assert.throws(() => applyRepetitionPenalty(Float32Array.from([1]), [], 0), /repetition penalty must be/);
  assert.throws(
    () => applyMask(Float32Array.from([1, 2]), new Uint8Array(3)),
    /mask has length 3, expected the vocabulary size 2/,
  );
});

test("a temperature folded into the draw picks exactly what applyTemperature, softmax and a cumulative draw pick", () => {
  /** The composed reference: scaled logits, softmax probabilities, the first index whose cumulative mass passes u. */
  const reference = (x: Float32Array, temperature: number, rng: Rng): number => {
    const probs = softmax(applyTemperature(x, temperature));
    const u = rng.next();
    let cumulative = 0;
    let last = -1;
    for (let i = 0; i < probs.length; i++) {
      if (probs[i] === 0) continue;
      cumulative += probs[i];
      last = i;
      if (u < cumulative) return i;
    }
    return last;
  };
  fc.assert(
    fc.property(logitsArb, fc.double({ min: 0.05, max: 5, noNaN: true }), fc.nat(1 << 30), (x, temperature, seed) => {
      const a = new Rng(seed);
      const b = new Rng(seed);
      for (let i = 0; i < 10; i++) assert.equal(sampleFromLogits(x, a, temperature), reference(x, temperature, b));
      assert.equal(sampleToken(x, { temperature }, new Rng(seed)), reference(x, temperature, new Rng(seed)));
    }),
  );
});
