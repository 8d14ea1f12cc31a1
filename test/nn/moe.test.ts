// The MoE router against a plain-loop reference, the bias update rule, and the two
// expert paths (training dispatch and the fused ONNX Runtime MoE op) against each other.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Graph, op, quantizableWeights, quantizeInt8, type Tensor, toOnnx } from "../../src/graph/index.js";
import {
  defaultMoeConfig,
  expertGroups,
  MoeConfig,
  moeInfer,
  moeTrain,
  routeTokens,
  Scope,
  updateRouterBias,
} from "../../src/nn/index.js";
import { ParamStore } from "../../src/runtime/params.js";
import { Rng } from "../../src/runtime/rng.js";
import { compile } from "../../src/runtime/session.js";

const threads = 1;

/** The router, written as plain loops: what routeTokens must compute. */
function referenceRoute(
  x: Float32Array,
  w: Float32Array,
  n: number,
  c: number,
  cfg: MoeConfig,
  bias?: Float32Array,
  domain?: number[],
) {
  const e = cfg.experts;
  const groupOf = expertGroups(cfg);
  const out: { experts: number[]; weights: number[] }[] = [];
  for (let t = 0; t < n; t++) {
    const logits = new Array<number>(e).fill(0);
    for (let j = 0; j < e; j++) for (let k = 0; k < c; k++) logits[j] += x[t * c + k] * w[k * e + j];
    let scores: number[];
    if (cfg.scoreFunc === "softmax") {
      const m = Math.max(...logits);
      const ex = logits.map((l) => Math.exp(l - m));
      const z = ex.reduce((a, b) => a + b, 0);
      scores = ex.map((v) => v / z);
    } else scores = logits.map((l) => 1 / (1 + Math.exp(-l)));
    const choose = scores.map((sc, j) => sc + (bias ? bias[j] : 0));
    let allowed = new Array<boolean>(e).fill(true);
    if (cfg.topkGroups < cfg.groups.length) {
      const groupScore = cfg.groups.map((_, gi) => {
        const members = choose.filter((_, j) => groupOf[j] === gi).sort((a, b) => b - a);
        return members[0] + members[1];
      });
      const keep = groupScore
        .map((v, gi) => [v, gi])
        .sort((a, b) => b[0] - a[0])
        .slice(0, cfg.topkGroups)
        .map((p) => p[1]);
      allowed = allowed.map((_, j) => keep.includes(groupOf[j]));
    }
    if (domain && domain[t] >= 0) allowed = allowed.map((_, j) => groupOf[j] === domain[t]);
    const order = choose
      .map((v, j) => [allowed[j] ? v : Number.NEGATIVE_INFINITY, j])
      .sort((a, b) => b[0] - a[0])
      .slice(0, cfg.topK)
      .map((p) => p[1]);
    let weights = order.map((j) => (allowed[j] ? scores[j] : 0));
    if (cfg.scoreFunc === "sigmoid") {
      const z = weights.reduce((a, b) => a + b, 0);
      weights = weights.map((v) => v / z);
    }
    weights = weights.map((v) => v * cfg.routedScaling);
    out.push({ experts: order, weights });
  }
  return out;
}

async function runRouter(cfg: MoeConfig, n: number, c: number, seed: number, withBias: boolean, domain?: number[]) {
  const g = new Graph();
  const x = g.input("x", "float32", [n, c]);
  const bias = withBias ? g.input("bias", "float32", [cfg.experts]) : undefined;
  const dom = domain ? g.input("domain", "int64", [n]) : undefined;
  const r = routeTokens(new Scope(g).child("gate"), x, cfg, { bias, domain: dom });
  const store = ParamStore.fromGraph(g, seed);
  // Larger router weights than the init, so scores are spread out and ties are impossible.
  const gw = store.get("gate.weight").data.map((v) => v * 40);
  store.set("gate.weight", [c, cfg.experts], gw);
  const rng = new Rng(seed + 1);
  const xs = Float32Array.from({ length: n * c }, () => rng.normal());
  const bs = Float32Array.from({ length: cfg.experts }, () => rng.normal() * 0.05);
  const session = await compile(
    toOnnx({ outputs: { weights: r.weights, indices: r.indices }, paramValue: (k) => store.get(k).data }),
    { threads },
  );
  const feeds: Parameters<typeof session.run>[0] = { x: { dtype: "float32", shape: [n, c], data: xs } };
  if (withBias) feeds.bias = { dtype: "float32", shape: [cfg.experts], data: bs };
  if (domain) feeds.domain = { dtype: "int64", shape: [n], data: BigInt64Array.from(domain, BigInt) };
  const out = await session.run(feeds);
  const ref = referenceRoute(xs, gw, n, c, cfg, withBias ? bs : undefined, domain);
  return { out, ref };
}

function assertSameRouting(
  out: Awaited<ReturnType<typeof runRouter>>["out"],
  ref: ReturnType<typeof referenceRoute>,
  k: number,
  label: string,
) {
  ref.forEach((r, t) => {
    const got = Array.from(out.indices.data as BigInt64Array)
      .slice(t * k, t * k + k)
      .map(Number);
    const gotW = Array.from(out.weights.data as Float32Array).slice(t * k, t * k + k);
    assert.deepEqual(
      [...got].sort((a, b) => a - b),
      [...r.experts].sort((a, b) => a - b),
      `${label}: token ${t} experts`,
    );
    for (let i = 0; i < k; i++) {
      const j = r.experts.indexOf(got[i]);
      assert.ok(
        Math.abs(gotW[i] - r.weights[j]) < 1e-5,
        `${label}: token ${t} weight of expert ${got[i]}: ${gotW[i]} vs ${r.weights[j]}`,
      );
    }
  });
}

const small: MoeConfig = {
  ...defaultMoeConfig,
  experts: 13,
  groups: [
    { name: "text", size: 6 },
    { name: "image", size: 4 },
    { name: "code", size: 3 },
  ],
  topK: 3,
  topkGroups: 2,
  expertHidden: 8,
};

test("router matches the plain-loop reference: softmax, group-limited, uneven groups, bias", async () => {
  const { out, ref } = await runRouter(small, 11, 5, 1, true);
  assertSameRouting(out, ref, small.topK, "softmax+groups+bias");
});

test("router matches the reference: sigmoid scores with renormalised, scaled weights", async () => {
  const cfg = { ...small, scoreFunc: "sigmoid" as const, routedScaling: 2.5 };
  const { out, ref } = await runRouter(cfg, 9, 4, 2, true);
  assertSameRouting(out, ref, cfg.topK, "sigmoid");
});

test("router matches the reference: no group limit, no bias, the course's 128 experts top-10", async () => {
  const cfg = { ...defaultMoeConfig, topkGroups: 3 };
  const { out, ref } = await runRouter(cfg, 6, 16, 3, false);
  assertSameRouting(out, ref, cfg.topK, "128/top-10");
});

test("router matches the reference on random configs (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 2, max: 6 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 1000 }),
      fc.boolean(),
      fc.constantFrom("softmax" as const, "sigmoid" as const),
      async (sizes, seed, withBias, scoreFunc) => {
        const experts = sizes.reduce((a, b) => a + b, 0);
        const topkGroups = 1 + (seed % sizes.length);
        const cfg: MoeConfig = {
          ...small,
          experts,
          groups: sizes.map((size, i) => ({ name: `g${i}`, size })),
          topkGroups,
          topK: Math.min(
            1 + (seed % 3),
            sizes
              .slice()
              .sort((a, b) => a - b)
              .slice(0, topkGroups)
              .reduce((a, b) => a + b, 0),
          ),
          scoreFunc,
        };
        const { out, ref } = await runRouter(cfg, 5, 3, seed, withBias);
        assertSameRouting(out, ref, cfg.topK, `sizes ${sizes} seed ${seed}`);
      },
    ),
    { numRuns: 15 },
  );
});

test("a domain hint restricts a token to its group's experts (image tokens -> image experts)", async () => {
  const domain = [1, -1, 1, 2, 0, -1, 1];
  const cfg = { ...small, topK: 3 };
  const { out, ref } = await runRouter(cfg, domain.length, 5, 4, true, domain);
  assertSameRouting(out, ref, cfg.topK, "domain");
  const groupOf = expertGroups(cfg);
  domain.forEach((d, t) => {
    if (d < 0) return;
    const chosen = Array.from(out.indices.data as BigInt64Array)
      .slice(t * 3, t * 3 + 3)
      .map(Number);
    for (const j of chosen) assert.equal(groupOf[j], d, `token ${t} hinted to group ${d} used expert ${j}`);
  });
});

test("aux-loss-free bias update: bias += rate * sign(mean load - load)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat(50), { minLength: 2, maxLength: 20 }),
      fc.double({ min: 1e-4, max: 0.1, noNaN: true }),
      (load, rate) => {
        const bias = Float32Array.from(load, (_, i) => i * 0.01);
        const before = Float32Array.from(bias);
        updateRouterBias(bias, load, rate);
        const mean = load.reduce((a, b) => a + b, 0) / load.length;
        load.forEach((l, i) => {
          const want = Math.fround(before[i] + rate * Math.sign(mean - l));
          assert.ok(Math.abs(bias[i] - want) < 1e-6, `expert ${i}: ${bias[i]} vs ${want}`);
        });
      },
    ),
  );
});

async function bothPaths(cfg: MoeConfig, n: number, c: number, capacityFactor: number) {
  const g = new Graph();
  const x = g.input("x", "float32", [n, c]);
  const train = moeTrain(new Scope(g).child("moe"), x, { ...cfg, capacityFactor }, {});
  const store = ParamStore.fromGraph(g, 5);
  for (const [name, v] of store.values)
    store.set(
      name,
      v.shape,
      v.data.map((q) => q * 10),
    ); // spread the routing
  const gi = new Graph();
  const xi = gi.input("x", "float32", ["N", c]);
  const infer = moeInfer(new Scope(gi).child("moe"), xi, cfg, {});
  const rng = new Rng(9);
  const feed = {
    x: { dtype: "float32" as const, shape: [n, c], data: Float32Array.from({ length: n * c }, () => rng.normal()) },
  };
  const paramValue = (k: string) => store.get(k).data;
  const a = await (
    await compile(toOnnx({ outputs: { out: train.out, load: train.load, dropped: train.dropped }, paramValue }), { threads })
  ).run(feed);
  const b = await (await compile(toOnnx({ outputs: { out: infer }, paramValue }), { threads })).run(feed);
  return { train: a, infer: b };
}

test("without drops, the training dispatch equals the fused ONNX Runtime MoE op", async () => {
  const cfg = { ...small, sharedExperts: 1 };
  const n = 17;
  const { train, infer } = await bothPaths(cfg, n, 6, cfg.experts); // capacity = every assignment
  assert.equal(train.dropped.data[0], 0);
  const load = Array.from(train.load.data as Float32Array);
  assert.equal(
    load.reduce((s, v) => s + v, 0),
    n * cfg.topK,
  );
  const a = train.out.data as Float32Array;
  const b = infer.out.data as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  assert.ok(maxDiff < 1e-4, `dispatch vs fused MoE differ by ${maxDiff}`);
});

test("capacity drops are counted: dropped = sum over experts of max(0, load - capacity)", async () => {
  const cfg = { ...small, topkGroups: 1 }; // crowd tokens into one group so experts overflow
  const n = 20;
  const capacityFactor = 0.5;
  const { train } = await bothPaths(cfg, n, 6, capacityFactor);
  const p = Math.ceil((capacityFactor * n * cfg.topK) / cfg.experts);
  const load = Array.from(train.load.data as Float32Array);
  const expected = load.reduce((s, l) => s + Math.max(0, l - p), 0);
  assert.ok(expected > 0, "the test needs some overflow");
  assert.equal(train.dropped.data[0], expected);
});

test("config validation names the problem", () => {
  const parsed = MoeConfig.safeParse({ ...defaultMoeConfig, experts: 100 });
  assert.equal(parsed.success, false);
  assert.match(parsed.error?.issues.map((i) => i.message).join("; ") ?? "", /group sizes add up to 128, expected experts = 100/);
  const tooMany = MoeConfig.safeParse({ ...defaultMoeConfig, topkGroups: 4 });
  assert.match(tooMany.error?.issues.map((i) => i.message).join("; ") ?? "", /topkGroups 4 exceeds the 3 groups/);
});

test("int8 experts: the gather form and QMoE both stay close to the fp32 MoE op, for 1 and 17 tokens", async () => {
  const cfg = { ...small, sharedExperts: 0, expertHidden: 16 };
  const c = 32;
  const g = new Graph();
  const x = g.input("x", "float32", ["N", c]);
  const out = moeInfer(new Scope(g).child("moe"), x, cfg, {});
  const store = ParamStore.fromGraph(g, 3);
  const paramValue = (k: string) => store.get(k).data;
  const run = async (outputs: Record<string, Tensor>, n: number) => {
    const rng = new Rng(n);
    const data = Float32Array.from({ length: n * c }, () => rng.normal());
    const compiled = await compile(toOnnx({ outputs, paramValue }), { threads });
    return (await compiled.run({ x: { dtype: "float32", shape: [n, c], data } })).out.data as Float32Array;
  };
  for (const n of [1, 17]) {
    const fp32 = await run({ out }, n);
    const scale = fp32.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (const moe of ["qmoe", "gather"] as const) {
      const q = quantizeInt8({ out }, { paramValue, moe, minElements: 1e9 });
      assert.equal(q.report.moeBlocks, 1);
      const int8 = await run(q.outputs, n);
      let maxDiff = 0;
      for (let i = 0; i < fp32.length; i++) maxDiff = Math.max(maxDiff, Math.abs(int8[i] - fp32[i]));
      // 8-bit weights (and, in the gather form, 8-bit activations): a few percent of the output's range
      assert.ok(maxDiff < 0.03 * scale, `${moe}, ${n} tokens: max difference ${maxDiff} vs output range ${scale}`);
      assert.ok(maxDiff > 0, `${moe}: the int8 output equals fp32 exactly, so nothing was quantized`);
    }
  }
});

test("quantizableWeights lists exactly what the int8 pass quantizes", () => {
  const g = new Graph();
  const x = g.input("x", "float32", ["N", 32]);
  const moeOut = moeInfer(new Scope(g).child("moe"), x, { ...small, expertHidden: 16 }, {});
  const big = g.param("big", [32, 256], { kind: "constant", value: 0 }); // 8192 elements: quantized
  const tiny = g.param("tiny", [32, 8], { kind: "constant", value: 0 }); // 256: stays float
  const out = op.add(op.reduceSum(op.matmul(moeOut, big), [1]), op.reduceSum(op.matmul(x, tiny), [1]));
  const store = ParamStore.fromGraph(g, 1);
  const found = quantizableWeights([out]);
  const q = quantizeInt8({ out }, { paramValue: (k) => store.get(k).data });
  assert.equal(found.matmuls.length, q.report.matmuls);
  assert.ok(found.matmuls.some((m) => m.k === 32 && m.n === 256));
  assert.ok(!found.matmuls.some((m) => m.k === 32 && m.n === 8));
  assert.deepEqual(found.moeBlocks, [{ experts: small.experts, hidden: 16, dim: 32 }]);
  assert.equal(found.moeBlocks.length, q.report.moeBlocks);
});
