// Many LoRA adapters served unmerged on one base (the shipped tiny MoE LM): rows decoding
// with different adapters, and the base, in one session get the logits each merged model
// gives alone (prefill, packed prefill and decode steps), the continuous batcher mixes them in
// one batch with each request's greedy tokens unchanged, and what cannot be served is refused.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ContinuousBatcher, type StreamChunk } from "../../src/generate/index.js";
import { mergeLora, randomLoraAdapter } from "../../src/models/loraAdapter.js";
import { loadMoeLm } from "../../src/models/moeLmFiles.js";
import { MoeLmModel } from "../../src/models/moeLmModel.js";
import type { LoraConfig } from "../../src/nn/index.js";

const files = await loadMoeLm("assets/lm-tiny");
const cfg = files.config.model;
const tokenizer = {
  encode: (s: string) => files.tokenizer.encode(s),
  decode: (ids: readonly number[]) => files.tokenizer.decode(ids),
};

const randomAdapter = (config: LoraConfig, seed: number) => randomLoraAdapter(cfg, config, seed, 0.15);

// Different ranks, scales and targets: attention only; every linear (router and shared experts too).
const attention = randomAdapter({ r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj"] }, 1);
const everywhere = randomAdapter(
  {
    r: 2,
    alpha: 6,
    dropout: 0,
    targetModules: [
      "q_proj",
      "k_proj",
      "v_proj",
      "o_proj",
      "mlp.gate_proj",
      "mlp.up_proj",
      "mlp.down_proj",
      "shared_experts.down_proj",
      "gate",
    ],
  },
  2,
);
const served = await MoeLmModel.create(cfg, files.store, tokenizer, { threads: 2 });
served.loadAdapter("attention", attention);
served.loadAdapter("everywhere", everywhere);
const merged = {
  base: served,
  attention: await MoeLmModel.create(cfg, mergeLora(files.store, attention.adapter, attention.config), tokenizer, { threads: 2 }),
  everywhere: await MoeLmModel.create(cfg, mergeLora(files.store, everywhere.adapter, everywhere.config), tokenizer, {
    threads: 2,
  }),
};
const prompts = ["The sea", "A wise man once said", "function add(a, b) {", "Love is"].map((p) => tokenizer.encode(p));
const rowAdapters = ["attention", undefined, "everywhere", "attention"] as const;

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("a session mixing two adapters and the base gives each row its merged model's logits (prefill and decode)", async () => {
  assert.deepEqual(served.adapterNames, ["attention", "everywhere"]);
  const session = await served.open(4);
  for (const [row, a] of rowAdapters.entries()) session.setAdapter!(row, a);
  // Each row alone on its merged model (the base for row 1).
  const alone = await Promise.all(rowAdapters.map((a) => merged[a ?? "base"].open(1)));
  const baseAlone = await merged.base.open(1);
  const check = async (rows: number[], tokens: number[][], what: string) => {
    const mixed = await session.feed(rows, tokens);
    const expected = await Promise.all(rows.map((r, k) => alone[r].feed([0], [tokens[k]]).then((x) => x[0])));
    for (const [k, r] of rows.entries()) {
      assert.ok(maxDiff(mixed[k], expected[k]) <= 1e-4, `${what}, row ${r}: ${maxDiff(mixed[k], expected[k])}`);
    }
    return expected.map((l) => l.indexOf(Math.max(...l)));
  };
  // Prefill all four (different lengths: packed in one graph row where that pays), then decode;
  // rows 1 and 3 sit some steps out, so a call's rows and adapters vary.
  let next = await check([0, 1, 2, 3], prompts, "prefill");
  const [baseLogits] = await baseAlone.feed([0], [prompts[0]]);
  const [adapted] = await (await merged.attention.open(1)).feed([0], [prompts[0]]);
  assert.ok(maxDiff(adapted, baseLogits) > 1e-2, "the adapter changes the logits");
  const last = [...next];
  for (const rows of [
    [0, 1, 2, 3],
    [0, 2],
    [0, 2],
    [1, 3],
    [0, 1, 2, 3],
  ]) {
    next = await check(
      rows,
      rows.map((r) => [last[r]]),
      `decode ${rows.join(",")}`,
    );
    for (const [k, r] of rows.entries()) last[r] = next[k];
  }
});

async function collect(stream: AsyncIterable<StreamChunk>): Promise<number[]> {
  const tokens: number[] = [];
  for await (const c of stream) tokens.push(c.token);
  return tokens;
}

test("the continuous batcher runs requests for different adapters in one batch, each as its merged model alone", async () => {
  const opts = { maxTokens: 12, temperature: 0, ignoreEos: true };
  const batcher = new ContinuousBatcher(served, { maxBatch: 8, maxWaitMs: 20 });
  const mixed = await Promise.all(
    prompts.flatMap((p) =>
      (["attention", undefined, "everywhere"] as const).map((adapter) => collect(batcher.submit(p, opts, { adapter }))),
    ),
  );
  assert.ok(batcher.load().meanBatch > 2, `requests shared steps (mean batch ${batcher.load().meanBatch})`);
  await batcher.close();
  let k = 0;
  for (const p of prompts) {
    for (const a of ["attention", undefined, "everywhere"] as const) {
      const alone = new ContinuousBatcher(merged[a ?? "base"], { maxBatch: 1, maxWaitMs: 0 });
      assert.deepEqual(mixed[k++], await collect(alone.submit(p, opts)), `${a ?? "base"}: ${tokenizer.decode(p)}`);
      await alone.close();
    }
  }
});

test("unknown adapters, adapters that update the embedding, and a taken name are refused; unloading keeps the rest", async () => {
  const batcher = new ContinuousBatcher(served, { maxBatch: 4, maxWaitMs: 0 });
  await assert.rejects(
    collect(batcher.submit(prompts[0], { maxTokens: 2 }, { adapter: "nope" })),
    /no LoRA adapter named 'nope'/,
  );
  await batcher.close();
  const embedding = randomAdapter({ r: 2, alpha: 4, dropout: 0, targetModules: ["embed_tokens"] }, 3);
  assert.throws(() => served.loadAdapter("emb", embedding), /updates model\.embed_tokens, which is served only merged/);
  const experts = randomAdapter({ r: 2, alpha: 4, dropout: 0, targetModules: ["up_proj"] }, 4);
  assert.throws(
    () => served.loadAdapter("experts", experts),
    /updates model\.layers\.\d+\.mlp\.experts\.0\.up_proj, which is served only merged/,
  );
  assert.throws(() => served.loadAdapter("attention", attention), /already loaded/);
  const extra = await MoeLmModel.create(cfg, files.store, tokenizer, { threads: 2 });
  extra.loadAdapter("a", attention);
  extra.loadAdapter("b", everywhere);
  const session = await extra.open(2);
  session.setAdapter!(0, "a");
  session.setAdapter!(1, "b");
  await session.feed([0, 1], [prompts[0], prompts[1]]);
  assert.equal(extra.unloadAdapter("a"), true);
  assert.equal(extra.unloadAdapter("a"), false);
  assert.deepEqual(extra.adapterNames, ["b"]);
  // The row that started with "a" keeps it to the end.
  const [l0] = await session.feed([0], [[1]]);
  const alone = await merged.attention.open(1);
  await alone.feed([0], [prompts[0]]);
  const [e0] = await alone.feed([0], [[1]]);
  assert.ok(maxDiff(l0, e0) <= 1e-4);
  session.release(0);
  assert.throws(() => session.setAdapter!(0, "a"), /no LoRA adapter named 'a' is loaded \(loaded: b\)/);
});
