// Training with the executor: an MLP and a character-level transformer LM learn;
// a checkpointed, resumed run follows the uninterrupted curve; the exported inference
// model agrees with the training graph's forward.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { lmBatch } from "../../src/data/batches.js";
import { loadFortunes } from "../../src/data/corpus.js";
import { Graph, op } from "../../src/graph/index.js";
import { gptLogits } from "../../src/models/gpt.js";
import { linear } from "../../src/nn/index.js";
import { Scope } from "../../src/nn/scope.js";
import { loadCheckpoint } from "../../src/runtime/checkpoint.js";
import { Evaluator } from "../../src/runtime/evaluator.js";
import { ParamStore } from "../../src/runtime/params.js";
import { Rng } from "../../src/runtime/rng.js";
import { compile } from "../../src/runtime/session.js";
import { TrainStep } from "../../src/runtime/trainStep.js";
import { type CharLmOptions, exportGptInference, setupCharLm } from "../../src/train/charLm.js";
import { trainLoop } from "../../src/train/loop.js";
import { crossEntropy } from "../../src/train/losses.js";
import { constantSchedule, cosineSchedule } from "../../src/train/schedule.js";

const threads = 2;

test("an MLP learns two interleaved spirals", async () => {
  // 2-D points on two spirals, labels 0/1: not linearly separable, so the hidden layer must work.
  const n = 256;
  const rng = new Rng(7);
  const xs = new Float32Array(n * 2);
  const ys = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const cls = i % 2;
    const r = (i / n) * 4 + 0.2;
    const a = r * 2.2 + cls * Math.PI;
    xs[2 * i] = r * Math.cos(a) * 0.5 + rng.normal() * 0.02;
    xs[2 * i + 1] = r * Math.sin(a) * 0.5 + rng.normal() * 0.02;
    ys[i] = BigInt(cls);
  }
  const g = new Graph();
  const x = g.input("x", "float32", [n, 2]);
  const y = g.input("y", "int64", [n]);
  const s = new Scope(g);
  const h1 = op.tanh(linear(s.child("fc1"), x, 64, { std: 1, bias: true }));
  const h2 = op.tanh(linear(s.child("fc2"), h1, 64, { std: 0.2, bias: true }));
  const logits = linear(s.child("out"), h2, 2, { std: 0.2, bias: true });
  const loss = crossEntropy(logits, y);
  const store = ParamStore.fromGraph(g, 0);
  const step = await TrainStep.create(loss, store, { threads, optimizer: { weightDecay: 0 } });
  const batch = {
    x: { dtype: "float32" as const, shape: [n, 2], data: xs },
    y: { dtype: "int64" as const, shape: [n], data: ys },
  };
  const { losses } = await trainLoop({
    trainStep: step,
    store,
    steps: 400,
    schedule: constantSchedule(1e-2),
    batchAt: () => batch,
  });
  assert.ok(losses[0] > 0.6, `initial loss ${losses[0]} should be near ln 2`);
  const final = losses.at(-1)!;
  assert.ok(final < 0.15, `MLP loss should fall below 0.15 on spirals, got ${final}`);
  // Accuracy from the forward graph with the trained parameters.
  const evaluator = await Evaluator.create({ logits }, store, threads);
  const out = (await evaluator.run(batch)).logits.data as Float32Array;
  let correct = 0;
  for (let i = 0; i < n; i++) if ((out[2 * i + 1] > out[2 * i] ? 1n : 0n) === ys[i]) correct++;
  assert.ok(correct / n > 0.95, `accuracy ${correct / n} should exceed 95%`);
});

const text = loadFortunes(300_000);
const charOpts: CharLmOptions = {
  model: { blockSize: 64, dim: 96, heads: 4, layers: 2 },
  batch: 16,
  seed: 1,
  trainStep: { threads },
};

test("a 2-layer causal transformer LM on fortunes falls well below the unigram baseline", async () => {
  const steps = 500;
  const s = await setupCharLm(text, charOpts);
  const before = await s.evaluate();
  await trainLoop({
    trainStep: s.trainStep,
    store: s.store,
    steps,
    schedule: cosineSchedule({ lr: 3e-3, warmup: 20, total: steps }),
    batchAt: s.batchAt,
  });
  const after = await s.evaluate();
  assert.ok(before > s.unigram, `an untrained model (${before}) should be no better than unigram (${s.unigram})`);
  assert.ok(after < 0.8 * s.unigram, `held-out loss ${after.toFixed(3)} should be < 0.8 x unigram ${s.unigram.toFixed(3)}`);

  // The exported inference graph (symbolic B and T, weights embedded) gives the training forward's logits.
  const trainForward = await Evaluator.create({ logits: forwardLogits(s) }, s.store, threads);
  const batch = lmBatch(s.valid, charOpts.batch, charOpts.model.blockSize, 99, 0);
  const expected = (await trainForward.run({ ...batch })).logits.data as Float32Array;
  const infer = await compile(exportGptInference(s.cfg, s.store), { threads });
  const got = (await infer.run({ ids: batch.ids })).logits.data as Float32Array;
  assert.equal(got.length, expected.length);
  let maxDiff = 0;
  for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
  assert.ok(maxDiff <= 1e-4, `inference logits differ from training forward by ${maxDiff}`);
  // A shorter sequence (T is symbolic) equals the prefix of the full-length logits: causality.
  const short = { dtype: "int64" as const, shape: [charOpts.batch, 10], data: new BigInt64Array(charOpts.batch * 10) };
  for (let b = 0; b < charOpts.batch; b++)
    for (let t = 0; t < 10; t++) short.data[b * 10 + t] = batch.ids.data[b * 64 + t] as bigint;
  const shortLogits = (await infer.run({ ids: short })).logits;
  assert.deepEqual(shortLogits.shape, [charOpts.batch, 10, s.cfg.vocab]);
  const v = s.cfg.vocab;
  for (let t = 0; t < 10; t++) {
    for (let k = 0; k < v; k++) {
      const a = (shortLogits.data as Float32Array)[t * v + k];
      const b = expected[t * v + k];
      assert.ok(Math.abs(a - b) <= 1e-4, `prefix logits differ at t=${t}: ${a} vs ${b}`);
    }
  }
});

/** The logits tensor of a fresh training graph over the same store (parameter names match). */
function forwardLogits(s: Awaited<ReturnType<typeof setupCharLm>>) {
  const g = new Graph();
  const ids = g.input("ids", "int64", [charOpts.batch, s.cfg.blockSize]);
  g.input("targets", "int64", [charOpts.batch, s.cfg.blockSize]);
  return gptLogits(g, s.cfg, ids);
}

test("a checkpointed and resumed run gives the same loss curve as an uninterrupted one", async () => {
  const steps = 30;
  const schedule = cosineSchedule({ lr: 3e-3, warmup: 5, total: steps });
  const whole = await setupCharLm(text, charOpts);
  const uninterrupted = (
    await trainLoop({ trainStep: whole.trainStep, store: whole.store, steps, schedule, batchAt: whole.batchAt })
  ).losses;

  const dir = await mkdtemp(join(tmpdir(), "aigc-ckpt-"));
  try {
    const first = await setupCharLm(text, charOpts);
    const half = await trainLoop({
      trainStep: first.trainStep,
      store: first.store,
      steps: steps / 2,
      schedule,
      batchAt: first.batchAt,
      checkpoint: { dir: join(dir, "ckpt"), every: steps / 2, config: first.cfg },
    });
    // A fresh process would do exactly this: load the folder, rebuild, restore, continue.
    const ckpt = await loadCheckpoint(join(dir, "ckpt"));
    assert.equal(ckpt.step, steps / 2);
    assert.deepEqual(ckpt.config, first.cfg);
    const resumed = await setupCharLm(text, { ...charOpts, store: ckpt.store });
    resumed.trainStep.restore(ckpt.moments!, ckpt.step);
    const rest = await trainLoop({
      trainStep: resumed.trainStep,
      store: resumed.store,
      steps,
      schedule,
      batchAt: resumed.batchAt,
    });
    const curve = [...half.losses, ...rest.losses];
    assert.equal(curve.length, uninterrupted.length);
    for (const [i, l] of curve.entries()) {
      assert.ok(Math.abs(l - uninterrupted[i]) <= 1e-6, `step ${i + 1}: resumed ${l} vs uninterrupted ${uninterrupted[i]}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
