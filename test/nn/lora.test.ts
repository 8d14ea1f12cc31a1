// LoRA: the update's gradients match finite differences; in a LoRA training step only A and B
// train (the base weights, norms and embeddings are frozen constants); B starts at zero, so the
// model starts exactly as the base; PEFT's target-module rule.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Graph, op } from "../../src/graph/index.js";
import { moeLm } from "../../src/models/index.js";
import { MoeLmConfig } from "../../src/models/moeLm.js";
import { defaultMoeConfig, isLoraTarget, linear, loraDelta, Scope } from "../../src/nn/index.js";
import { ParamStore } from "../../src/runtime/index.js";
import { formatReport, gradcheck, randn } from "../helpers/gradcheck.js";

const cfg = MoeLmConfig.parse({
  vocab: 64,
  maxSeq: 16,
  dim: 32,
  heads: 4,
  layers: 2,
  denseLayers: 1,
  denseHidden: 48,
  tieEmbeddings: true,
  ropeTheta: 10000,
  normEps: 1e-6,
  moe: { ...defaultMoeConfig, expertHidden: 8, scoreFunc: "sigmoid" },
});

test("LoRA update: A and B gradients match central finite differences (x W + (α/r) x Aᵀ Bᵀ)", async () => {
  const [n, i, o, r] = [3, 5, 4, 2];
  const w = randn([i, o], 9);
  const result = await gradcheck(
    (g, [x, a, b]) =>
      op.add(
        op.matmul(x, op.constant(g, Float64Array.from(w), [i, o])),
        loraDelta(x, a, b, { config: { r, alpha: 3, dropout: 0, targetModules: ["q"] }, train: false }),
      ),
    [
      { label: "x", shape: [n, i], data: randn([n, i], 1) },
      { label: "lora_A", shape: [r, i], data: randn([r, i], 2) },
      { label: "lora_B", shape: [o, r], data: randn([o, r], 3) },
    ],
  );
  assert.ok(result.ok, formatReport("lora", result));
});

test("routed-expert update: stacked A and B gradients match central finite differences (x (W_e + (α/r) B_e A_e)ᵀ)", async () => {
  const [e, p, i, o, r] = [3, 2, 4, 5, 2];
  const w = randn([e, o, i], 8);
  const result = await gradcheck(
    (g, [x, a, b]) =>
      op.matmul(x, op.transposeLast(op.add(op.constant(g, Float64Array.from(w), [e, o, i]), op.mul(op.matmul(b, a), 1.5)))),
    [
      { label: "x", shape: [e, p, i], data: randn([e, p, i], 1) },
      { label: "lora_A", shape: [e, r, i], data: randn([e, r, i], 2) },
      { label: "lora_B", shape: [e, o, r], data: randn([e, o, r], 3) },
    ],
  );
  assert.ok(result.ok, formatReport("expert lora", result));
});

test("PEFT's target rule: a module matches its own name or a dotted suffix", () => {
  assert.ok(isLoraTarget("model.layers.0.self_attn.q_proj", ["q_proj"]));
  assert.ok(isLoraTarget("model.layers.0.self_attn.q_proj", ["self_attn.q_proj"]));
  assert.ok(!isLoraTarget("model.layers.0.self_attn.q_proj", ["proj"]));
  assert.ok(!isLoraTarget("model.layers.0.mlp.shared_experts.gate_proj", ["up_proj"]));
});

test("a LoRA graph trains only the updates, and starts as the base model", () => {
  const build = (lora: boolean) => {
    const g = new Graph();
    const ids = g.input("ids", "int64", [1, 8]);
    const out = moeLm(g, cfg, {
      ids,
      mode: "infer",
      lora: lora
        ? { config: { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj", "down_proj"] }, train: true }
        : undefined,
    });
    return { g, out };
  };
  const { g } = build(true);
  const trainable = g.trainableParams().map((t) => (t.node.op === "param" ? t.node.attrs.name : ""));
  assert.ok(trainable.length > 0);
  assert.ok(
    trainable.every((name) => /\.lora_[AB]\.weight$/.test(name)),
    `only lora_A / lora_B train: ${trainable.join(", ")}`,
  );
  // q_proj and v_proj of both layers, down_proj of the dense FFN, of the routed experts (stacked) and of the shared expert.
  assert.deepEqual(trainable.filter((n) => n.endsWith("lora_A.weight")).sort(), [
    "model.layers.0.mlp.down_proj.lora_A.weight",
    "model.layers.0.self_attn.q_proj.lora_A.weight",
    "model.layers.0.self_attn.v_proj.lora_A.weight",
    "model.layers.1.mlp.experts.down_proj.lora_A.weight",
    "model.layers.1.mlp.shared_experts.down_proj.lora_A.weight",
    "model.layers.1.self_attn.q_proj.lora_A.weight",
    "model.layers.1.self_attn.v_proj.lora_A.weight",
  ]);
  const store = ParamStore.fromGraph(g, 0);
  assert.equal(store.get("model.layers.0.self_attn.q_proj.lora_A.weight").shape.join("x"), "4x32");
  assert.equal(store.get("model.layers.0.self_attn.q_proj.lora_B.weight").shape.join("x"), "32x4");
  assert.ok(
    store.get("model.layers.0.self_attn.q_proj.lora_B.weight").data.every((v) => v === 0),
    "B starts at zero",
  );
  assert.ok(store.get("model.layers.0.self_attn.q_proj.lora_A.weight").data.some((v) => v !== 0));
  // The base graph's parameters are exactly the LoRA graph's frozen ones.
  const base = [...build(false).g.params.keys()].sort();
  const frozen = [...g.params.keys()].filter((n) => !/\.lora_[AB]\.weight$/.test(n)).sort();
  assert.deepEqual(frozen, base);
});

test("LoRA targets that match no linear are refused with the names that would", () => {
  const g = new Graph();
  const ids = g.input("ids", "int64", [1, 4]);
  assert.throws(
    () =>
      moeLm(g, cfg, {
        ids,
        mode: "infer",
        lora: { config: { r: 2, alpha: 2, dropout: 0, targetModules: ["experts"] }, train: false },
      }),
    /match no linear of this model \(e\.g\. q_proj/,
  );
  // A linear outside any LoRA plan is unchanged.
  const h = new Graph();
  linear(new Scope(h).child("q_proj"), h.input("x", "float32", [2, 3]), 4);
  assert.deepEqual([...h.params.keys()], ["q_proj.weight"]);
});
