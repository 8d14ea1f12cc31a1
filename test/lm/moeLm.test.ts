// The MoE language model end to end on real text: a short training run, the KV-cache
// decoder against the full forward, batched against one-by-one generation, int8, files
// on disk, and the errors a user meets.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { trainBpe } from "../../src/data/bpe.js";
import { mixedCorpus } from "../../src/data/corpora.js";
import { generate } from "../../src/generate/index.js";
import { Graph, toOnnx } from "../../src/graph/index.js";
import { MoeLmConfig, moeLayerIndices, moeLm, routerBiasName } from "../../src/models/moeLm.js";
import { loadMoeLm, MODEL_KIND, saveMoeLm } from "../../src/models/moeLmFiles.js";
import { MoeLmModel } from "../../src/models/moeLmModel.js";
import { packedPrefillPays } from "../../src/models/moeLmPrefill.js";
import { defaultMoeConfig } from "../../src/nn/index.js";
import { compile, type HostTensor } from "../../src/runtime/session.js";
import { tokenizeCorpus } from "../../src/train/lmRecipe.js";
import { setupMoeLmTraining } from "../../src/train/moeLm.js";
import { cosineSchedule } from "../../src/train/schedule.js";

const threads = 2;
const sizes = { en: 60_000, zh: 20_000, code: 30_000 };
const texts = mixedCorpus(sizes);
const tokenizer = trainBpe([texts.en, texts.zh, texts.code], { vocabSize: 700 });
const cfg = MoeLmConfig.parse({
  vocab: tokenizer.vocabSize,
  maxSeq: 64,
  dim: 64,
  heads: 4,
  layers: 3,
  denseLayers: 1,
  denseHidden: 128,
  tieEmbeddings: true,
  ropeTheta: 10000,
  normEps: 1e-6,
  moe: { ...defaultMoeConfig, expertHidden: 16, scoreFunc: "sigmoid" }, // the course's 128 experts, top-10
});
const textTokenizer = { encode: (s: string) => tokenizer.encode(s), decode: (ids: readonly number[]) => tokenizer.decode(ids) };
let dir = "";
let trained: Awaited<ReturnType<typeof setupMoeLmTraining>>;
let firstLoss = 0;
let lastLoss = 0;
let stats: ReturnType<typeof trained.afterStep>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "aigc-lm-"));
  const corpus = tokenizeCorpus(tokenizer, { corpus: sizes });
  trained = await setupMoeLmTraining({
    cfg,
    batch: 4,
    seqLen: 48,
    seed: 3,
    domainHints: false,
    gumbelAnnealSteps: 30,
    trainStep: { threads },
  });
  const steps = 60;
  const schedule = cosineSchedule({ lr: 4e-3, warmup: 5, total: steps });
  for (let s = 0; s < steps; s++) {
    const r = await trained.trainStep.run(trained.batchAt(corpus.train, 3, s, true), schedule(s));
    stats = trained.afterStep(r.extras);
    if (s === 0) firstLoss = r.loss;
    lastLoss = r.loss;
  }
  await saveMoeLm(dir, {
    config: { kind: MODEL_KIND, model: cfg, training: { corpus: sizes } },
    store: trained.store,
    tokenizer,
  });
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("training lowers the loss; ~8% of experts are active per token; router stats are complete", () => {
  assert.ok(lastLoss < firstLoss - 1, `loss should fall: ${firstLoss} -> ${lastLoss}`);
  assert.ok(
    stats.activeExpertFraction > 0.07 && stats.activeExpertFraction < 0.09,
    `active fraction ${stats.activeExpertFraction}`,
  );
  assert.equal(stats.layers.length, cfg.layers - cfg.denseLayers);
  for (const l of stats.layers) {
    assert.equal(l.load.length, 128);
    assert.equal(l.groupLoad.length, 3);
    assert.ok(Math.abs(l.groupLoad.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    assert.ok(l.dropRate >= 0 && l.dropRate < 1);
  }
});

test("the KV-cache decoder gives the full forward's logits, with rows fed unevenly", async () => {
  const model = await MoeLmModel.create(cfg, trained.store, textTokenizer, { threads });
  const a = tokenizer.encode("The quick brown fox jumps over the lazy dog. 人生如梦").slice(0, 30);
  const b = tokenizer.encode("function add(a: number, b: number) { return a + b; }").slice(0, 30);
  const c = tokenizer.encode("春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。 const x = 1;").slice(0, 30);
  const full = await model.allLogits([a.slice(0, 30), b.slice(0, 30), c]);
  const v = cfg.vocab;
  const session = await model.open(3);
  let maxDiff = 0;
  const check = (got: Float32Array, row: number, pos: number) => {
    for (let k = 0; k < v; k++) maxDiff = Math.max(maxDiff, Math.abs(got[k] - full[(row * 30 + pos) * v + k]));
  };
  // Row 0 gets 7 tokens, row 1 gets 12, then row 1 alone, then both one at a time; row 2's
  // prompt joins them midway (a row without a cache beside rows with one, in one feed).
  let out = await session.feed([0, 1], [a.slice(0, 7), b.slice(0, 12)]);
  check(out[0], 0, 6);
  check(out[1], 1, 11);
  out = await session.feed([1], [b.slice(12, 15)]);
  check(out[0], 1, 14);
  let pa = 7;
  let pb = 15;
  let pc = 0;
  while (pb < 30) {
    if (pb === 20) {
      out = await session.feed([2, 0, 1], [c.slice(0, 9), [a[pa]], [b[pb]]]);
      pc = 9;
      check(out[0], 2, 8);
      out = out.slice(1);
    } else if (pc > 0) {
      out = await session.feed([0, 1, 2], [[a[pa]], [b[pb]], [c[pc]]]);
      check(out[2], 2, pc++);
    } else {
      out = await session.feed([0, 1], [[a[pa]], [b[pb]]]);
    }
    check(out[0], 0, pa++);
    check(out[1], 1, pb++);
  }
  assert.ok(pc > 12, "row 2 decoded alongside the others");
  await assert.rejects(session.feed([0, 0], [[a[pa]], [a[pa]]]), /a row is listed twice/);
  await assert.rejects(session.feed([0], [[]]), /no tokens for row 0/);
  await session.close();
  assert.ok(maxDiff < 1e-4, `cached decode differs from the full forward by ${maxDiff}`);
});

test("prompts of different lengths prefilled packed in one row give the padded prefill's logits and cache", async () => {
  const prompts = [
    "Once upon a time there was a fox",
    "const y = 2;",
    "春眠不觉晓，处处闻啼鸟。",
    "A",
    "function sum(xs: number[]) { let total = 0; for (const x of xs) total += x; return total; }",
  ].map((p) => tokenizer.encode(p).slice(0, 18));
  const lengths = prompts.map((p) => p.length);
  assert.ok(packedPrefillPays(cfg, lengths), `lengths ${lengths} should pack`);
  assert.ok(!packedPrefillPays(cfg, [40, 30]), "a packed row holds at most maxSeq tokens");
  assert.ok(!packedPrefillPays(cfg, [20, 20, 20]), "equal lengths gain nothing from packing");
  assert.ok(!packedPrefillPays(cfg, [30]), "one prompt is never packed");
  const run = async (packPrefill: boolean) => {
    const model = await MoeLmModel.create(cfg, trained.store, textTokenizer, { threads, packPrefill });
    const session = await model.open(prompts.length);
    const rows = prompts.map((_, i) => i);
    const prefill = await session.feed(rows, prompts);
    // Two decode steps over the cache the prefill left: a different cache would show here.
    const next = await session.feed(
      rows,
      rows.map((i) => [prompts[i][0]]),
    );
    const after = await session.feed([3, 1], [[5], [6]]);
    await session.close();
    return [...prefill, ...next, ...after];
  };
  const packed = await run(true);
  const padded = await run(false);
  let maxDiff = 0;
  packed.forEach((l, i) => {
    for (let k = 0; k < l.length; k++) maxDiff = Math.max(maxDiff, Math.abs(l[k] - padded[i][k]));
  });
  assert.ok(maxDiff < 1e-4, `packed prefill differs from the padded one by ${maxDiff}`);
});

test("the fused inference graph (MultiHeadAttention, MoE op) gives the training graph's logits", async () => {
  // Training forward: composed attention and the capacity dispatch, with room for every assignment.
  const g = new Graph();
  const t = 40;
  const ids = g.input("ids", "int64", [2, t]);
  const noDrops = { ...cfg, moe: { ...cfg.moe, capacityFactor: cfg.moe.experts } };
  const bias = moeLayerIndices(cfg).map((layer) => ({ bias: g.input(routerBiasName(layer), "float32", [cfg.moe.experts]) }));
  const { logits } = moeLm(g, noDrops, { ids, mode: "train", moeInputs: bias });
  const seqs = [
    tokenizer.encode("Fortune favours the bold. 温故而知新 let y = 2;"),
    tokenizer.encode("for (const x of xs) { total += x; }"),
  ].map((x) => Array.from({ length: t }, (_, i) => x[i % x.length]));
  const feeds: Record<string, HostTensor> = {
    ids: { dtype: "int64", shape: [2, t], data: BigInt64Array.from(seqs.flat(), BigInt) },
  };
  for (const layer of moeLayerIndices(cfg)) feeds[routerBiasName(layer)] = trained.store.host(routerBiasName(layer));
  const session = await compile(toOnnx({ outputs: { logits }, paramValue: (n) => trained.store.get(n).data }), { threads });
  const expected = (await session.run(feeds)).logits.data as Float32Array;
  const model = await MoeLmModel.create(cfg, trained.store, textTokenizer, { threads });
  const got = await model.allLogits(seqs);
  let maxDiff = 0;
  for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
  assert.ok(maxDiff < 1e-4, `fused inference differs from the training graph by ${maxDiff}`);
});

test("batched generation equals generating each prompt alone (greedy), fp32 and int8", async () => {
  const prompts = ["The ", "Once upon a time", "const x =", "春眠不觉晓", "A"].map((p) => tokenizer.encode(p));
  for (const int8 of [false, true]) {
    const model = await MoeLmModel.create(cfg, trained.store, textTokenizer, { threads, int8 });
    const batched = await generate(model, prompts, { maxTokens: 12, temperature: 0 });
    for (const [i, p] of prompts.entries()) {
      const [alone] = await generate(model, [p], { maxTokens: 12, temperature: 0 });
      if (!int8) assert.deepEqual(batched[i].tokens, alone.tokens, `prompt ${i}`);
      else assert.equal(batched[i].tokens.length, alone.tokens.length); // int8 quantizes activations per call: batch-dependent
    }
  }
});

test("int8 (QMoE and gathered experts) keeps the held-out cross-entropy within 2% of fp32", async () => {
  const corpus = tokenizeCorpus(tokenizer, { corpus: sizes });
  const seqs = corpus.valid.map((s) => Array.from(s.tokens.subarray(0, 64)));
  const fp32 = await MoeLmModel.create(cfg, trained.store, textTokenizer, { threads });
  const int8 = await MoeLmModel.create(cfg, trained.store, textTokenizer, { threads, int8: true });
  // The gather form (what decoding steps run) quantizes activations too; score with it everywhere.
  const gather = await MoeLmModel.create(cfg, trained.store, textTokenizer, {
    threads,
    int8: true,
    int8GatherMaxTokens: Number.POSITIVE_INFINITY,
  });
  const a = await fp32.crossEntropy(seqs);
  for (const [form, model] of [
    ["QMoE", int8],
    ["gather", gather],
  ] as const) {
    const b = await model.crossEntropy(seqs);
    assert.notEqual(b, a, `${form}: int8 scores exactly as fp32, so nothing was quantized`);
    assert.ok(Math.abs(Math.exp(b) / Math.exp(a) - 1) < 0.02, `${form}: perplexity fp32 ${Math.exp(a)} vs int8 ${Math.exp(b)}`);
  }
});

test("a saved model loads back with identical weights and tokenizer", async () => {
  const files = await loadMoeLm(dir);
  assert.deepEqual(files.config.model, cfg);
  assert.equal(files.tokenizer.vocabSize, tokenizer.vocabSize);
  for (const [name, v] of trained.store.values) assert.deepEqual(files.store.get(name).data, v.data, name);
});

test("bad inputs give clear errors: unknown folder, bad config, prompt longer than the context", async () => {
  await assert.rejects(loadMoeLm(join(dir, "missing")), /no model in .*missing: expected .*config\.json/);
  const bad = await mkdtemp(join(tmpdir(), "aigc-bad-"));
  try {
    await writeFile(join(bad, "config.json"), "{ not json");
    await assert.rejects(loadMoeLm(bad), /config\.json is not valid JSON/);
    await writeFile(join(bad, "config.json"), JSON.stringify({ kind: MODEL_KIND, model: { ...cfg, heads: 3 } }));
    await assert.rejects(loadMoeLm(bad), /not a valid aigc-moe-lm config: .*heads/);
  } finally {
    await rm(bad, { recursive: true, force: true });
  }
  const model = await MoeLmModel.create(cfg, trained.store, textTokenizer, { threads });
  const long = Array.from({ length: cfg.maxSeq + 5 }, () => 1);
  await assert.rejects(generate(model, [long], { maxTokens: 4 }), /longer|context|maxLength/);
  // Through the CLI: a message, exit code 1, no stack trace.
  const cli = spawnSync(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "generate", "--model", dir, "--prompt", "word ".repeat(200)],
    {
      encoding: "utf8",
    },
  );
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /aigc: the prompt is \d+ tokens; the model's context is 64/);
  const missing = spawnSync(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "eval", "lm", "--model", "/nonexistent/model"],
    { encoding: "utf8" },
  );
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /aigc: no model in \/nonexistent\/model/);
});

test("`aigc generate` with several prompts writes each continuation as generating it alone does", () => {
  const run = (...args: string[]) => {
    const base = ["--import", "tsx", "src/cli/main.ts", "generate", "--model", dir, "--temperature", "0", "--max-tokens", "8"];
    const out = spawnSync(process.execPath, [...base, ...args], { encoding: "utf8" });
    assert.equal(out.status, 0, out.stderr);
    return out.stdout;
  };
  const prompts = ["Once upon a time", "const x =", "春眠不觉晓"];
  const batched = JSON.parse(run("--json", "--prompt", ...prompts)) as { prompt: string; text: string; tokens: number[] }[];
  assert.deepEqual(
    batched.map((r) => r.prompt),
    prompts,
  );
  for (const r of batched) assert.ok(r.tokens.length > 0 && r.tokens.length <= 8, `${r.prompt}: 1..8 tokens`);
  // The plain output of one prompt: the prompt, its continuation, a newline.
  assert.equal(run("--prompt", prompts[1]), `${prompts[1]}${batched[1].text}\n`, "the batched row equals the prompt alone");
  const plain = run("--prompt", ...prompts);
  assert.equal(plain, batched.map((r) => `${r.prompt}${r.text}\n`).join("\n"));
  const tooLong = spawnSync(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "generate", "--model", dir, "--prompt", "ok", "word ".repeat(200)],
    { encoding: "utf8" },
  );
  assert.equal(tooLong.status, 1);
  assert.match(tooLong.stderr, /aigc: prompt 2 is \d+ tokens; the model's context is 64/);
});
