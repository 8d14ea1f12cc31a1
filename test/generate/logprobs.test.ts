// Log probabilities, logit bias and OpenAI's frequency / presence penalties in decoding.
// `logprobsOf` as properties over random logits (log probabilities ≤ 0, alternatives most
// likely first, their probabilities summing to at most 1, equal to a float64 log-softmax);
// through `generate` with a small table model: the logprobs are those of the distribution
// the token was drawn from (temperature, mask and top-p applied), text offsets, the bias and
// the penalties.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type DecodeModel, type DecodeSession, generate, logprobsOf, type StreamChunk } from "../../src/generate/index.js";

test("logprobsOf: ≤ 0, most likely first, exp-sum ≤ 1, equal to a float64 log-softmax; masked tokens never listed", () => {
  const logit = fc.oneof(
    { weight: 5, arbitrary: fc.double({ min: -30, max: 30, noNaN: true }) },
    { weight: 1, arbitrary: fc.constant(Number.NEGATIVE_INFINITY) },
  );
  fc.assert(
    fc.property(fc.array(logit, { minLength: 1, maxLength: 60 }), fc.nat(25), fc.nat(), (values, k, pick) => {
      const finite = values.map((v, i) => [v, i] as const).filter(([v]) => Number.isFinite(v));
      fc.pre(finite.length > 0);
      const logits = Float32Array.from(values);
      const token = finite[pick % finite.length][1];
      const { logprob, top } = logprobsOf(logits, token, k);
      const max = Math.max(...logits);
      const logZ = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
      assert.ok(logprob <= 0);
      assert.ok(Math.abs(logprob - Math.min(0, logits[token] - logZ)) < 1e-9);
      assert.equal(top.length, Math.min(k, finite.length));
      assert.equal(new Set(top.map((t) => t.id)).size, top.length);
      for (let i = 1; i < top.length; i++) assert.ok(top[i - 1].logprob >= top[i].logprob);
      assert.ok(top.every((t) => Number.isFinite(logits[t.id]) && t.logprob <= 0));
      assert.ok(top.reduce((s, t) => s + Math.exp(t.logprob), 0) <= 1 + 1e-12);
      // The listed ones are the most likely: nothing unlisted beats the last listed.
      if (top.length > 0 && top.length < finite.length) {
        const last = top[top.length - 1];
        const listed = new Set(top.map((t) => t.id));
        for (const [, i] of finite) if (!listed.has(i)) assert.ok(logits[i] <= logits[last.id]);
      }
    }),
    { numRuns: 400 },
  );
});

/** Tokens 0 (eos) and 1–5 spelling "a"–"e"; the logits depend on the last token only. */
class TableModel implements DecodeModel {
  readonly eosId = 0;
  readonly vocabSize = 6;
  readonly maxLength = 64;
  constructor(private readonly table: (last: number) => number[]) {}
  decode(ids: number[]): string {
    return ids.map((id) => (id === 0 ? "" : "abcde"[id - 1])).join("");
  }
  async open(rows: number): Promise<DecodeSession> {
    const last = new Array<number>(rows).fill(1);
    return {
      vocabSize: this.vocabSize,
      maxLength: this.maxLength,
      feed: async (r: number[], tokens: number[][]) =>
        r.map((row, i) => {
          last[row] = tokens[i].at(-1)!;
          return Float32Array.from(this.table(last[row]));
        }),
      close: async () => {},
    };
  }
}

const steady = new TableModel(() => [-3, 2, 1, 0, -1, -2]);

async function tokensOf(model: DecodeModel, options: Parameters<typeof generate>[2]): Promise<number[]> {
  const [result] = await generate(model, [[1]], options);
  return result.tokens;
}

test("logprobs are of the distribution sampled from: temperature, the mask and top-p applied", async () => {
  const chunks: StreamChunk[] = [];
  const { generateStream } = await import("../../src/generate/index.js");
  const mask = Uint8Array.from([1, 1, 1, 0, 1, 1]); // token 3 ("c") never
  for await (const c of generateStream(steady, [1], {
    maxTokens: 6,
    temperature: 0.5,
    topP: 0.99,
    seed: 7,
    logprobs: 3,
    logitsMask: () => mask,
    ignoreEos: true,
  })) {
    chunks.push(c);
  }
  assert.equal(chunks.length, 6);
  // softmax([-3, 2, 1, -, -1, -2] / 0.5), then top-p 0.99 keeps the smallest head holding 99%.
  const scaled = [-6, 4, 2, Number.NEGATIVE_INFINITY, -2, -4];
  const z = scaled.reduce((s, x) => s + Math.exp(x), 0);
  const p = scaled.map((x) => Math.exp(x) / z);
  const kept = [1, 2, 4].filter((_, i, ids) => ids.slice(0, i).reduce((s, id) => s + p[id], 0) < 0.99);
  const zKept = kept.reduce((s, id) => s + Math.exp(scaled[id]), 0);
  for (const c of chunks) {
    assert.ok(c.logprobs, "every chunk has logprobs");
    assert.ok(kept.includes(c.token), `token ${c.token} was filtered out`);
    assert.ok(Math.abs(c.logprobs.logprob - (scaled[c.token] - Math.log(zKept))) < 1e-6);
    assert.deepEqual(
      c.logprobs.top.map((t) => t.id),
      kept.slice(0, 3),
    );
    assert.ok(c.logprobs.top.reduce((s, t) => s + Math.exp(t.logprob), 0) <= 1 + 1e-9);
  }
  assert.deepEqual(
    chunks.map((c) => c.logprobs?.textOffset),
    [0, 1, 2, 3, 4, 5],
  );
});

test("greedy decoding reports the temperature-1 distribution (not a point mass)", async () => {
  const [result] = await generate(steady, [[1]], { maxTokens: 1, temperature: 0 });
  assert.deepEqual(result.tokens, [1]);
  const chunks: StreamChunk[] = [];
  const { generateStream } = await import("../../src/generate/index.js");
  for await (const c of generateStream(steady, [1], { maxTokens: 1, temperature: 0, logprobs: 2 })) chunks.push(c);
  const logits = [-3, 2, 1, 0, -1, -2];
  const logZ = Math.log(logits.reduce((s, x) => s + Math.exp(x), 0));
  assert.ok(Math.abs(chunks[0].logprobs!.logprob - (2 - logZ)) < 1e-6);
  assert.ok(chunks[0].logprobs!.logprob < 0);
});

test("logit bias and OpenAI's frequency / presence penalties change what greedy decoding picks", async () => {
  // Unbiased, greedy always picks token 1 ("a").
  assert.deepEqual(await tokensOf(steady, { maxTokens: 4, temperature: 0 }), [1, 1, 1, 1]);
  // +5 on token 4 makes it the best; -100 on token 1 all but bans it.
  assert.deepEqual(await tokensOf(steady, { maxTokens: 3, temperature: 0, logitBias: { "4": 5 } }), [4, 4, 4]);
  assert.deepEqual(await tokensOf(steady, { maxTokens: 3, temperature: 0, logitBias: { "1": -100 } }), [2, 2, 2]);
  // Presence: a token once generated loses 1.5, so 1 (2 → 0.5) falls below 2 (1) once, and 2 (then -0.5) stays below.
  assert.deepEqual(await tokensOf(steady, { maxTokens: 4, temperature: 0, presencePenalty: 1.5 }), [1, 2, 1, 1]);
  // Frequency: each repeat costs 0.6 more: 2, 1.4, 0.8 < 1 → token 2 after three 1s.
  assert.deepEqual(await tokensOf(steady, { maxTokens: 4, temperature: 0, frequencyPenalty: 0.6 }), [1, 1, 2, 1]);
  await assert.rejects(tokensOf(steady, { maxTokens: 1, logitBias: { "9": 1 } }), /logitBias names token 9/);
});
