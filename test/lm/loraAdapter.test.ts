// LoRA adapters in Hugging Face PEFT's layout: files PEFT would write (field names, key names,
// shapes), a save/load round trip, merging against the unmerged graph (the same logits), and
// the errors a user meets: wrong shapes, another model's adapter, half pairs, PEFT options we
// do not compute, and corrupt bytes.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { loadLoraAdapter, mergeLora, randomLoraAdapter, saveLoraAdapter, stackExpertLora } from "../../src/models/loraAdapter.js";
import { MoeLmConfig } from "../../src/models/moeLm.js";
import { compileMoeLm, moeLmInferenceGraph } from "../../src/models/moeLmInference.js";
import { defaultMoeConfig, type LoraConfig } from "../../src/nn/index.js";
import { ParamStore } from "../../src/runtime/params.js";
import { Rng } from "../../src/runtime/rng.js";
import { readSafetensors, type SafeTensor, SafetensorsError, writeSafetensors } from "../../src/runtime/safetensors.js";
import type { HostTensor } from "../../src/runtime/session.js";

const cfg = MoeLmConfig.parse({
  vocab: 64,
  maxSeq: 16,
  dim: 16,
  heads: 2,
  layers: 2,
  denseLayers: 1,
  denseHidden: 32,
  tieEmbeddings: true,
  ropeTheta: 10000,
  normEps: 1e-6,
  moe: {
    ...defaultMoeConfig,
    experts: 8,
    groups: [
      { name: "text", size: 4 },
      { name: "image", size: 2 },
      { name: "code", size: 2 },
    ],
    topK: 2,
    expertHidden: 8,
  },
});
const lora: LoraConfig = { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj"] };
const base = ParamStore.fromGraph(moeLmInferenceGraph(cfg).g, 0);

/** Random non-zero A and B for every targeted linear (B is zeros at init: the update must show). */
const adapter = new ParamStore();
for (const [name, entry] of ParamStore.fromGraph(moeLmInferenceGraph(cfg, { lora: { config: lora, train: false } }).g, 0)
  .values) {
  if (!name.includes(".lora_")) continue;
  const rng = Rng.forName(7, name);
  adapter.set(
    name,
    entry.shape,
    Float32Array.from(entry.data, () => rng.normal() * 0.3),
  );
}
const root = await mkdtemp(join(tmpdir(), "aigc-lora-"));
after(() => rm(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `a${dirs++}`);

const peft = (name: string) => `base_model.model.${name}`;

/** A folder with this adapter_config.json and these tensors (PEFT keys), for the error cases. */
async function adapterFolder(config: Record<string, unknown>, tensors: Record<string, SafeTensor>): Promise<string> {
  const dir = freshDir();
  await saveLoraAdapter(dir, { config: lora, adapter, baseModel: "assets/chat" });
  const json = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
  await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ ...json, ...config }));
  await writeSafetensors(join(dir, "adapter_model.safetensors"), tensors, { format: "pt" });
  return dir;
}

/** The adapter's tensors under PEFT's keys, with `edit` applied (our names). */
function peftTensors(edit: (t: Map<string, { shape: number[]; data: Float32Array }>) => void = () => {}) {
  const t = new Map([...adapter.values].map(([k, v]) => [k, { shape: [...v.shape], data: v.data }]));
  edit(t);
  return Object.fromEntries(
    [...t].map(([k, v]): [string, SafeTensor] => [peft(k), { dtype: "F32", shape: v.shape, data: v.data }]),
  );
}

test("saved files are PEFT's: adapter_config.json fields, base_model.model.* keys, [r, in] / [out, r]; loading gives them back", async () => {
  const dir = freshDir();
  await saveLoraAdapter(dir, { config: lora, adapter, baseModel: "assets/chat" });
  const json = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
  assert.deepEqual(Object.keys(json), Object.keys(json).sort(), "keys sorted, as PEFT's save_pretrained writes them");
  const expected = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    r: 4,
    lora_alpha: 8,
    lora_dropout: 0,
    target_modules: ["q_proj", "v_proj"],
    base_model_name_or_path: "assets/chat",
    bias: "none",
    fan_in_fan_out: false,
    use_rslora: false,
    use_dora: false,
    lora_bias: false,
    modules_to_save: null,
    init_lora_weights: true,
    inference_mode: true,
    revision: null,
    rank_pattern: {},
    alpha_pattern: {},
    layers_to_transform: null,
  };
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(json[k], v, `adapter_config.json ${k}`);

  const file = await readSafetensors(join(dir, "adapter_model.safetensors"));
  assert.deepEqual(file.metadata, { format: "pt" });
  const keys = Object.keys(file.tensors).sort();
  const expectedKeys = [0, 1]
    .flatMap((l) =>
      ["q_proj", "v_proj"].flatMap((m) => ["A", "B"].map((h) => peft(`model.layers.${l}.self_attn.${m}.lora_${h}.weight`))),
    )
    .sort();
  assert.deepEqual(keys, expectedKeys);
  for (const [key, t] of Object.entries(file.tensors)) {
    assert.equal(t.dtype, "F32");
    assert.deepEqual(t.shape, key.endsWith("lora_A.weight") ? [lora.r, cfg.dim] : [cfg.dim, lora.r], key);
  }

  const loaded = await loadLoraAdapter(dir, base);
  assert.deepEqual(loaded.config, lora);
  assert.deepEqual(
    [...loaded.modules].sort(),
    [0, 1].flatMap((l) => ["q_proj", "v_proj"].map((m) => `model.layers.${l}.self_attn.${m}`)).sort(),
  );
  assert.deepEqual([...loaded.adapter.values.keys()].sort(), [...adapter.values.keys()].sort());
  for (const [name, v] of adapter.values) {
    assert.deepEqual(loaded.adapter.get(name).shape, v.shape);
    assert.deepEqual(loaded.adapter.get(name).data, v.data, name);
  }
});

/** Full-sequence feeds (fresh cache, causal mask), as MoeLmModel.allLogits builds them. */
function feeds(sequences: number[][]): Record<string, HostTensor> {
  const b = sequences.length;
  const t = sequences[0].length;
  const d = cfg.dim / cfg.heads;
  const mask = new Float32Array(b * t * t).fill(-1e9);
  for (let r = 0; r < b; r++) for (let q = 0; q < t; q++) for (let c = 0; c <= q; c++) mask[(r * t + q) * t + c] = 0;
  const out: Record<string, HostTensor> = {
    ids: { dtype: "int64", shape: [b, t], data: BigInt64Array.from(sequences.flat(), BigInt) },
    positions: { dtype: "int64", shape: [b, t], data: BigInt64Array.from({ length: b * t }, (_, i) => BigInt(i % t)) },
    domain: { dtype: "int64", shape: [b, t], data: new BigInt64Array(b * t) },
    mask: { dtype: "float32", shape: [b, 1, t, t], data: mask },
  };
  for (let i = 0; i < cfg.layers; i++) {
    out[`past_key.${i}`] = { dtype: "float32", shape: [b, cfg.heads, 0, d], data: new Float32Array(0) };
    out[`past_value.${i}`] = { dtype: "float32", shape: [b, cfg.heads, 0, d], data: new Float32Array(0) };
  }
  return out;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

test("the merged model gives the base + adapter graph's logits", async () => {
  const sequences = [
    [1, 5, 9, 13, 17, 21, 25, 29],
    [60, 2, 33, 4, 41, 8, 50, 3],
  ];
  const withAdapter = new ParamStore();
  for (const [k, v] of base.values) withAdapter.values.set(k, v);
  for (const [k, v] of adapter.values) withAdapter.values.set(k, v);
  const run = async (store: ParamStore, plan?: { config: LoraConfig; train: boolean }) =>
    (await (await compileMoeLm(cfg, store, { threads: 1, lora: plan })).run(feeds(sequences))).logits.data as Float32Array;
  const unmerged = await run(withAdapter, { config: lora, train: false });
  const merged = mergeLora(base, adapter, lora);
  const mergedLogits = await run(merged);
  const baseLogits = await run(base);
  assert.ok(maxDiff(unmerged, mergedLogits) <= 1e-4, `merged vs unmerged: ${maxDiff(unmerged, mergedLogits)}`);
  assert.ok(maxDiff(unmerged, baseLogits) > 1e-3, "the adapter changes the logits");

  // Only the targeted weights change; the rest are the base's own arrays.
  assert.equal(
    merged.get("model.layers.0.self_attn.k_proj.weight").data,
    base.get("model.layers.0.self_attn.k_proj.weight").data,
  );
  assert.notEqual(
    merged.get("model.layers.0.self_attn.q_proj.weight").data,
    base.get("model.layers.0.self_attn.q_proj.weight").data,
  );
  assert.ok(![...merged.values.keys()].some((k) => k.includes(".lora_")));
  // W'[i][o] = W[i][o] + (α/r) Σ_k A[k][i] B[o][k], by hand at one entry.
  const m = "model.layers.1.self_attn.v_proj";
  const [i, o] = [3, 11];
  const a = adapter.get(`${m}.lora_A.weight`).data;
  const b = adapter.get(`${m}.lora_B.weight`).data;
  let delta = 0;
  for (let k = 0; k < lora.r; k++) delta += a[k * cfg.dim + i] * b[o * lora.r + k];
  const w = (s: ParamStore) => s.get(`${m}.weight`).data[i * cfg.dim + o];
  assert.ok(Math.abs(w(merged) - w(base) - (lora.alpha / lora.r) * delta) < 1e-6);
});

test("an embedding update (PEFT's lora_embedding_A / _B) merges into the tied table: same logits, saved and loaded", async () => {
  const withEmbed: LoraConfig = { ...lora, targetModules: ["q_proj", "embed_tokens"] };
  const graph = moeLmInferenceGraph(cfg, { lora: { config: withEmbed, train: false } }).g;
  const embedAdapter = new ParamStore();
  for (const [name, entry] of ParamStore.fromGraph(graph, 0).values) {
    if (!name.includes(".lora_")) continue;
    const rng = Rng.forName(11, name);
    embedAdapter.set(
      name,
      entry.shape,
      Float32Array.from(entry.data, () => rng.normal() * 0.3),
    );
  }
  assert.deepEqual(embedAdapter.get("model.embed_tokens.lora_embedding_A").shape, [lora.r, cfg.vocab]);
  assert.deepEqual(embedAdapter.get("model.embed_tokens.lora_embedding_B").shape, [cfg.dim, lora.r]);
  const withAdapter = new ParamStore();
  for (const [k, v] of base.values) withAdapter.values.set(k, v);
  for (const [k, v] of embedAdapter.values) withAdapter.values.set(k, v);
  const sequences = [[1, 5, 9, 13, 17, 21, 25, 29]];
  const run = async (store: ParamStore, plan?: { config: LoraConfig; train: boolean }) =>
    (await (await compileMoeLm(cfg, store, { threads: 1, lora: plan })).run(feeds(sequences))).logits.data as Float32Array;
  const unmerged = await run(withAdapter, { config: withEmbed, train: false });
  const merged = await run(mergeLora(base, embedAdapter, withEmbed));
  assert.ok(maxDiff(unmerged, merged) <= 1e-4, `merged vs unmerged: ${maxDiff(unmerged, merged)}`);
  assert.ok(maxDiff(unmerged, await run(base)) > 1e-3, "the adapter changes the logits");
  const dir = freshDir();
  await saveLoraAdapter(dir, { config: withEmbed, adapter: embedAdapter, baseModel: "assets/chat" });
  const { tensors } = await readSafetensors(join(dir, "adapter_model.safetensors"));
  assert.ok("base_model.model.model.embed_tokens.lora_embedding_A" in tensors, "PEFT's key for an embedding's A");
  const loaded = await loadLoraAdapter(dir, base);
  assert.ok(loaded.modules.includes("model.embed_tokens"));
});

const q0 = "model.layers.0.self_attn.q_proj";

test("adapter tensors that do not fit the base are refused, naming the tensor", async () => {
  const wrongIn = await adapterFolder(
    {},
    peftTensors((t) => t.set(`${q0}.lora_A.weight`, { shape: [4, 17], data: new Float32Array(68) })),
  );
  await assert.rejects(
    loadLoraAdapter(wrongIn, base),
    /adapter_model\.safetensors: base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight is \[4, 17\] but the base's model\.layers\.0\.self_attn\.q_proj\.weight is \[16, 16\] \(expects \[4, 16\]\)/,
  );
  const wrongR = await adapterFolder({ r: 8 }, peftTensors());
  await assert.rejects(
    loadLoraAdapter(wrongR, base),
    /lora_A\.weight is \[4, 16\] but r is 8 in the config \(expects \[8, 16\]\)/,
  );
  const otherModel = await adapterFolder(
    {},
    peftTensors((t) => {
      t.set("model.layers.5.self_attn.q_proj.lora_A.weight", { shape: [4, 16], data: new Float32Array(64) });
      t.set("model.layers.5.self_attn.q_proj.lora_B.weight", { shape: [16, 4], data: new Float32Array(64) });
    }),
  );
  await assert.rejects(loadLoraAdapter(otherModel, base), /the base has no model\.layers\.5\.self_attn\.q_proj\.weight/);
  const half = await adapterFolder(
    {},
    peftTensors((t) => t.delete(`${q0}.lora_B.weight`)),
  );
  await assert.rejects(
    loadLoraAdapter(half, base),
    /q_proj\.lora_A\.weight has no partner base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_B\.weight/,
  );
  const untargeted = await adapterFolder({ target_modules: ["v_proj"] }, peftTensors());
  await assert.rejects(
    loadLoraAdapter(untargeted, base),
    /updates model\.layers\.\d\.self_attn\.q_proj, which target_modules \["v_proj"\] does not match/,
  );
  const named = await adapterFolder(
    {},
    peftTensors((t) => {
      const v = t.get(`${q0}.lora_A.weight`);
      t.delete(`${q0}.lora_A.weight`);
      if (v) t.set(`${q0}.lora_A.default.weight`, v);
    }),
  );
  await assert.rejects(loadLoraAdapter(named, base), /is not a LoRA update .*drop the adapter name/);
  await assert.rejects(
    saveLoraAdapter(freshDir(), { config: lora, adapter: base, baseModel: "assets/chat" }),
    /saveLoraAdapter: .* is not a LoRA update/,
  );
  // mergeLora checks the same way, in our names.
  const bad = new ParamStore();
  bad.set(`${q0}.lora_A.weight`, [4, 16], new Float32Array(64));
  assert.throws(
    () => mergeLora(base, bad, lora),
    /mergeLora: model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight has no partner/,
  );
});

test("PEFT options this runtime does not compute are refused with the reason", async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ peft_type: "IA3" }, /peft_type "IA3" is not supported: only "LORA"/],
    [{ use_dora: true }, /use_dora true is not supported: DoRA/],
    [{ use_rslora: true }, /use_rslora true is not supported: .*alpha\/sqrt\(r\)/],
    [{ fan_in_fan_out: true }, /fan_in_fan_out true is not supported/],
    [{ bias: "all" }, /bias "all" is not supported/],
    [{ modules_to_save: ["lm_head"] }, /modules_to_save \["lm_head"\] is not supported/],
    [{ target_modules: "all-linear" }, /target_modules "all-linear" is a regex/],
    [{ rank_pattern: { q_proj: 8 } }, /rank_pattern is not supported/],
    [{ init_lora_weights: "pissa" }, /init_lora_weights "pissa" is not supported: .*modified base weight/],
  ];
  for (const [config, message] of cases) {
    const dir = await adapterFolder(config, peftTensors());
    await assert.rejects(loadLoraAdapter(dir, base), (e: Error) => {
      assert.match(e.message, /adapter_config\.json: /);
      assert.match(e.message, message);
      return true;
    });
  }
  // Defaults PEFT's own files leave out are filled in; unknown (newer PEFT) fields pass.
  const minimal = freshDir();
  await saveLoraAdapter(minimal, { config: lora, adapter, baseModel: "assets/chat" });
  await writeFile(
    join(minimal, "adapter_config.json"),
    JSON.stringify({ peft_type: "LORA", r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj"], eva_config: null }),
  );
  assert.deepEqual((await loadLoraAdapter(minimal, base)).config, lora);
  const wrongType = await adapterFolder({ r: "4" }, peftTensors());
  await assert.rejects(
    loadLoraAdapter(wrongType, base),
    /adapter_config\.json is not a valid PEFT LoRA config: r: expected a number, got a string/,
  );
  await assert.rejects(loadLoraAdapter(join(root, "nothing"), base), /no LoRA adapter in .*: expected .*adapter_config\.json/);
});

test("corrupt adapter_model.safetensors bytes give a clear error, never a crash", async () => {
  const dir = freshDir();
  await saveLoraAdapter(dir, { config: lora, adapter, baseModel: "assets/chat" });
  const path = join(dir, "adapter_model.safetensors");
  const good = new Uint8Array(await readFile(path));
  const headerEnd = 8 + Number(new DataView(good.buffer, good.byteOffset, 8).getBigUint64(0, true));
  let refused = 0;
  await writeFile(path, good.subarray(0, 20));
  await assert.rejects(loadLoraAdapter(dir, base), SafetensorsError);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(headerEnd - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
      async (flips) => {
        const bytes = Uint8Array.from(good);
        for (const [at, x] of flips) bytes[at] ^= x;
        await writeFile(path, bytes);
        try {
          await loadLoraAdapter(dir, base);
        } catch (e) {
          refused++;
          assert.ok(e instanceof Error, `threw a non-Error: ${String(e)}`);
          assert.ok(e.constructor === Error || e instanceof SafetensorsError, `threw a ${e.constructor.name}: ${e.message}`);
          assert.match(e.message, /adapter_model\.safetensors/);
        }
      },
    ),
    { numRuns: 150, seed: 23 },
  );
  assert.ok(refused > 100, `most flips are refused (${refused} of 150)`);
});

test("routed-expert updates (PEFT's per-expert gate/up/down_proj of Glm4Moe): saved per expert, loaded, merged into the stacked experts with the graph's logits", async () => {
  const experts: LoraConfig = { r: 2, alpha: 4, dropout: 0, targetModules: ["gate_proj", "up_proj", "down_proj"] };
  const stacked = stackExpertLora(randomLoraAdapter(cfg, experts, 11, 0.3).adapter);
  assert.deepEqual(stacked.get("model.layers.1.mlp.experts.gate_proj.lora_A.weight").shape, [8, 2, cfg.dim], "[E, r, in]");
  assert.deepEqual(stacked.get("model.layers.1.mlp.experts.down_proj.lora_B.weight").shape, [8, cfg.dim, 2], "[E, out, r]");
  const dir = freshDir();
  await saveLoraAdapter(dir, { config: experts, adapter: stacked, baseModel: "assets/chat" });
  const keys = Object.keys((await readSafetensors(join(dir, "adapter_model.safetensors"))).tensors);
  assert.ok(keys.includes(peft("model.layers.1.mlp.experts.7.up_proj.lora_B.weight")), "one pair per expert, as PEFT names them");
  assert.ok(keys.includes(peft("model.layers.1.mlp.shared_experts.up_proj.lora_A.weight")));
  assert.ok(!keys.some((k) => /\.mlp\.experts\.(gate|up|down)_proj/.test(k)), "no stacked keys in the file");
  const loaded = await loadLoraAdapter(dir, base);
  assert.equal(loaded.modules.filter((m) => /experts\.\d+\./.test(m)).length, 8 * 3);

  const sequences = [[1, 5, 9, 13, 17, 21, 25, 29]];
  const withAdapter = new ParamStore();
  for (const [k, v] of base.values) withAdapter.values.set(k, v);
  for (const [k, v] of stackExpertLora(loaded.adapter).values) withAdapter.values.set(k, v);
  const run = async (store: ParamStore, plan?: { config: LoraConfig; train: boolean }) =>
    (await (await compileMoeLm(cfg, store, { threads: 1, lora: plan })).run(feeds(sequences))).logits.data as Float32Array;
  const unmerged = await run(withAdapter, { config: experts, train: false });
  const merged = await run(mergeLora(base, loaded.adapter, experts));
  assert.ok(maxDiff(unmerged, merged) <= 1e-4, `merged vs unmerged: ${maxDiff(unmerged, merged)}`);
  assert.ok(maxDiff(unmerged, await run(base)) > 1e-3, "the adapter changes the logits");
  // Expert 3's up_proj update lands in the odd rows of its gate_up block: W[3, 2o+1, i] += (α/r) Σ_k B[o][k] A[k][i].
  const a = loaded.adapter.get("model.layers.1.mlp.experts.3.up_proj.lora_A.weight").data;
  const b = loaded.adapter.get("model.layers.1.mlp.experts.3.up_proj.lora_B.weight").data;
  const [o, i, h] = [5, 7, cfg.moe.expertHidden];
  let delta = 0;
  for (let k = 0; k < 2; k++) delta += b[o * 2 + k] * a[k * cfg.dim + i];
  const at = (s: ParamStore) => s.get("model.layers.1.mlp.experts.gate_up_proj").data[(3 * 2 * h + 2 * o + 1) * cfg.dim + i];
  assert.ok(Math.abs(at(mergeLora(base, loaded.adapter, experts)) - at(base) - 2 * delta) < 1e-6);
});
