// Continuous batching on the real engine with the shipped tiny MoE LM: every request gets what
// it gets alone (greedy and seeded sampling), requests join a running batch and leave it, the
// session grows and shrinks with the load, cancelled requests free their row, and bad
// prompts are refused before anything is queued.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ContinuousBatcher, GenerateError, type GenerateOptions, generate, type StreamChunk } from "../../src/generate/index.js";
import { loadMoeLm } from "../../src/models/moeLmFiles.js";
import { MoeLmModel } from "../../src/models/moeLmModel.js";

const files = await loadMoeLm("assets/lm-tiny");
const tokenizer = {
  encode: (s: string) => files.tokenizer.encode(s),
  decode: (ids: readonly number[]) => files.tokenizer.decode(ids),
};
const model = await MoeLmModel.create(files.config.model, files.store, tokenizer, { threads: 2 });
const prompts = [
  "The sea",
  "A wise man once said",
  "function add(a, b) {",
  "床前明月光",
  "Love is",
  "The best way to",
  "import { readFile } from",
  "He who laughs",
].map((p) => tokenizer.encode(p));

async function collect(stream: AsyncIterable<StreamChunk>): Promise<{ tokens: number[]; text: string; finish: string | null }> {
  const tokens: number[] = [];
  let text = "";
  let finish: string | null = null;
  for await (const c of stream) {
    tokens.push(c.token);
    text += c.text;
    finish = c.finishReason;
  }
  return { tokens, text, finish };
}

test("each request gets exactly what it gets alone: greedy, and sampling with its seed", async () => {
  const batcher = new ContinuousBatcher(model, { maxBatch: 8, maxWaitMs: 2 });
  const greedy = { maxTokens: 10, temperature: 0 };
  const sampled = (i: number) => ({ maxTokens: 10, temperature: 0.9, topP: 0.95, seed: 100 + i });
  const outs = await Promise.all(prompts.map((p, i) => collect(batcher.submit(p, i % 2 ? sampled(i) : greedy))));
  for (const [i, p] of prompts.entries()) {
    const [alone] = await generate(model, [p], i % 2 ? sampled(i) : greedy);
    assert.deepEqual(outs[i].tokens, alone.tokens, `prompt ${i}`);
    assert.equal(outs[i].text, alone.text, `prompt ${i}`);
    assert.equal(outs[i].finish, alone.finishReason);
  }
  const load = batcher.load();
  assert.ok(load.meanBatch > 4, `requests submitted together share steps (mean batch ${load.meanBatch})`);
  assert.equal(load.queued + load.running, 0);
  await batcher.close();
});

test("requests join a running batch and leave it when done; the session follows the load", async () => {
  const batcher = new ContinuousBatcher(model, { maxBatch: 4, maxWaitMs: 0 });
  const long = batcher.submit(prompts[0], { maxTokens: 40, temperature: 0, ignoreEos: true });
  const iterator = long[Symbol.asyncIterator]();
  const first = await iterator.next(); // the long one is running alone
  assert.equal(first.done, false);
  // Six more arrive while it runs: at most 4 rows at once, the rest wait for a free row.
  const late = prompts.slice(1, 7).map((p) => collect(batcher.submit(p, { maxTokens: 5, temperature: 0, ignoreEos: true })));
  assert.ok(batcher.load().queued + batcher.load().running >= 6);
  const lateOuts = await Promise.all(late);
  for (const [i, out] of lateOuts.entries()) {
    const [alone] = await generate(model, [prompts[i + 1]], { maxTokens: 5, temperature: 0, ignoreEos: true });
    assert.deepEqual(out.tokens, alone.tokens, `late prompt ${i + 1}`);
  }
  const rest: number[] = [first.value!.token];
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value.token);
  const [aloneLong] = await generate(model, [prompts[0]], { maxTokens: 40, temperature: 0, ignoreEos: true });
  assert.deepEqual(rest, aloneLong.tokens, "the long request is unaffected by rows joining and leaving");
  assert.ok(batcher.load().meanBatch > 1.5, `mean batch ${batcher.load().meanBatch}`);
  await batcher.close();
});

test("cache columns of finished requests are dropped once they outnumber the live ones", async () => {
  const batcher = new ContinuousBatcher(model, { maxBatch: 8, maxWaitMs: 0 });
  // Eight clients, each sending requests one after another, of different lengths so they end
  // at different steps: rows come and go while the session keeps its 8 rows, and every step
  // adds a column that is dead once its rows finish (about 120 columns in all).
  const clients = [0, 1, 2, 3, 4, 5, 6, 7].map(async (client) => {
    const outs: { prompt: number[]; options: GenerateOptions; tokens: number[] }[] = [];
    for (let k = 0; k < 8; k++) {
      const prompt = prompts[(client * 3 + k) % prompts.length];
      const options = { maxTokens: 6 + ((client + k) % 7) * 2, temperature: 0, ignoreEos: true };
      outs.push({ prompt, options, tokens: (await collect(batcher.submit(prompt, options))).tokens });
    }
    return outs;
  });
  const outs = (await Promise.all(clients)).flat();
  for (const [i, out] of outs.entries()) {
    const [alone] = await generate(model, [out.prompt], out.options);
    assert.deepEqual(out.tokens, alone.tokens, `request ${i}: compaction keeps every live row's cache`);
  }
  // Live columns: the last ~20 steps plus up to 8 prompts (~80); dead ones are dropped once they
  // outnumber those. Without compaction this run holds about 380.
  const { peakColumns } = batcher.load();
  assert.ok(peakColumns <= 170, `peak columns ${peakColumns}: dead columns are not dropped`);
  await batcher.close();
});

test("a request whose reader stops is dropped; the others finish", async () => {
  const batcher = new ContinuousBatcher(model, { maxBatch: 4, maxWaitMs: 0 });
  const quitter = batcher.submit(prompts[1], { maxTokens: 50, temperature: 0, ignoreEos: true });
  const stayer = collect(batcher.submit(prompts[2], { maxTokens: 20, temperature: 0, ignoreEos: true }));
  let seen = 0;
  for await (const _ of quitter) if (++seen === 3) break;
  const out = await stayer;
  assert.equal(out.tokens.length, 20);
  await batcher.close();
  assert.equal(batcher.load().running, 0);
});

test("bad prompts and options are refused at submit with a clear error", () => {
  const batcher = new ContinuousBatcher(model);
  assert.throws(
    () => batcher.submit([], {}),
    (e: Error) => e instanceof GenerateError && /prompt 0 is empty/.test(e.message),
  );
  const tooLong = new Array(model.maxLength + 5).fill(5);
  assert.throws(
    () => batcher.submit(tooLong),
    (e: Error) => e instanceof GenerateError && /maxLength 256/.test(e.message),
  );
  assert.throws(() => batcher.submit([1], { temperature: -1 }), GenerateError);
  assert.throws(() => new ContinuousBatcher(model, { maxBatch: 0 }), /maxBatch must be a positive integer/);
  assert.equal(batcher.load().queued, 0);
});

test("dense expert dispatch (wide matmuls masked by routing weights) gives the sparse MoE op's logits", async () => {
  const dense = await MoeLmModel.create(files.config.model, files.store, tokenizer, { threads: 2, denseFromRows: 1 });
  const a = await model.open(3);
  const b = await dense.open(3);
  const feeds = [prompts[0], prompts[3], prompts[6]];
  const rows = [0, 1, 2];
  for (let step = 0; step < 3; step++) {
    const [la, lb] = await Promise.all([a.feed(rows, feeds), b.feed(rows, feeds)]);
    for (const r of rows) {
      let worst = 0;
      for (let i = 0; i < la[r].length; i++) worst = Math.max(worst, Math.abs(la[r][i] - lb[r][i]));
      assert.ok(worst < 1e-3, `step ${step} row ${r}: max |sparse - dense| = ${worst}`);
    }
    feeds.splice(0, 3, [7], [8], [9]);
  }
  const batcher = new ContinuousBatcher(dense, { maxBatch: 4, maxWaitMs: 0 });
  const out = await collect(batcher.submit(prompts[1], { maxTokens: 12, temperature: 0 }));
  const [alone] = await generate(model, [prompts[1]], { maxTokens: 12, temperature: 0 });
  assert.deepEqual(out.tokens, alone.tokens);
  await batcher.close();
});
