// The ceiling INT8 can reach on one batch-1 decode step of the MoE LM: the step's weight
// matmuls alone (every matmul the INT8 pass quantizes, plus the top-k routed experts of each
// MoE block as plain matmuls, i.e. a perfect dispatch with no routing or gathering), in one
// graph, fp32 vs the same graph through the INT8 pass (DynamicQuantizeMatMul). Also times
// each distinct shape. No norms, attention, routing or cache: if this ratio is below the
// target, the whole step cannot reach it with these kernels.
// Usage: node --import tsx bench/int8-matmul.ts [--preset small] [--threads 2] [--rounds 11]
import { parseArgs } from "node:util";
import { Graph, op, quantizableWeights, quantizeInt8, type Tensor, toOnnx } from "../src/graph/index.js";
import { MoeLmConfig } from "../src/models/moeLm.js";
import { moeLmInferenceGraph } from "../src/models/moeLmInference.js";
import { Rng } from "../src/runtime/rng.js";
import { type CompiledGraph, compile, type HostTensor } from "../src/runtime/session.js";
import { lmPresets } from "../src/train/lmRecipe.js";

const { values } = parseArgs({
  options: {
    preset: { type: "string", default: "small" },
    threads: { type: "string", default: "2" },
    rounds: { type: "string", default: "11" },
  },
});
const threads = Number(values.threads);
const rounds = Number(values.rounds);
const preset = lmPresets[values.preset as keyof typeof lmPresets];
if (!preset) throw new Error(`unknown preset "${values.preset}": one of ${Object.keys(lmPresets).join(", ")}`);
const cfg = MoeLmConfig.parse({ ...preset.model, vocab: preset.vocab });

/** [K, N] of every weight matmul one token passes through, in model order. */
const { outputs } = moeLmInferenceGraph(cfg, { lastOnly: true });
const found = quantizableWeights(Object.values(outputs));
const shapes = [...found.matmuls];
for (const block of found.moeBlocks)
  for (let k = 0; k < cfg.moe.topK; k++) shapes.push({ k: block.dim, n: 2 * block.hidden }, { k: block.hidden, n: block.dim });

/** One graph: y_i = x_{K_i} @ W_i for each shape (distinct weights), summed to one scalar. */
function matmulGraph(list: readonly { k: number; n: number }[], seed: number) {
  const g = new Graph();
  const inputs = new Map<number, Tensor>();
  const weights = new Map<string, Float32Array>();
  const rng = new Rng(seed);
  let total: Tensor | undefined;
  list.forEach(({ k, n }, i) => {
    if (!inputs.has(k)) inputs.set(k, g.input(`x${k}`, "float32", [1, k]));
    const name = `w${i}`;
    weights.set(
      name,
      Float32Array.from({ length: k * n }, () => (rng.next() - 0.5) * 0.1),
    );
    const y = op.reduceSum(op.matmul(inputs.get(k)!, g.param(name, [k, n], { kind: "constant", value: 0 })), [0, 1]);
    total = total ? op.add(total, y) : y;
  });
  const paramValue = (name: string) => weights.get(name)!;
  const feeds: Record<string, HostTensor> = {};
  for (const k of inputs.keys())
    feeds[`x${k}`] = { dtype: "float32", shape: [1, k], data: Float32Array.from({ length: k }, () => rng.next() - 0.5) };
  return { outputs: { total: total! }, paramValue, feeds };
}

async function pair(list: readonly { k: number; n: number }[], seed: number) {
  const m = matmulGraph(list, seed);
  const fp32 = await compile(toOnnx({ outputs: m.outputs, paramValue: m.paramValue }), { threads });
  const int8 = await compile(
    toOnnx({ outputs: quantizeInt8(m.outputs, { paramValue: m.paramValue }).outputs, paramValue: m.paramValue }),
    {
      threads,
    },
  );
  return { fp32, int8, feeds: m.feeds };
}

/** Median µs per call of each session, taking turns (the machine is shared and noisy). */
async function timeTurns(sessions: Record<string, CompiledGraph>, feeds: Record<string, HostTensor>, calls: number) {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(sessions).map((k) => [k, []]));
  for (const s of Object.values(sessions)) await s.run(feeds);
  for (let r = 0; r < rounds; r++)
    for (const [name, s] of Object.entries(sessions)) {
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) await s.run(feeds);
      times[name].push(((performance.now() - t0) / calls) * 1000);
    }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

const bytes = shapes.reduce((s, { k, n }) => s + 4 * k * n, 0);
console.log(
  `MoE LM preset ${values.preset}: ${shapes.length} weight matmuls per token (${found.matmuls.length} quantized dense, ${found.moeBlocks.length} MoE blocks × top-${cfg.moe.topK} experts × 2), ${(bytes / 1e6).toFixed(1)} MB fp32; ${threads} threads`,
);

// Each distinct shape, 16 copies with distinct weights per graph (so call overhead does not dominate).
const distinct = [...new Map(shapes.map((s) => [`${s.k}x${s.n}`, s])).values()];
const perShape: Record<string, { count: number; fp32Us: number; int8Us: number; ratio: number }> = {};
for (const s of distinct) {
  const p = await pair(Array(16).fill(s), s.k * 31 + s.n);
  const t = await timeTurns({ fp32: p.fp32, int8: p.int8 }, p.feeds, 40);
  const count = shapes.filter((x) => x.k === s.k && x.n === s.n).length;
  perShape[`${s.k}x${s.n}`] = { count, fp32Us: t.fp32 / 16, int8Us: t.int8 / 16, ratio: t.fp32 / t.int8 };
  console.log(
    `  [${s.k}, ${s.n}] × ${count} per token: fp32 ${(t.fp32 / 16).toFixed(1)} µs, int8 ${(t.int8 / 16).toFixed(1)} µs each: ${(t.fp32 / t.int8).toFixed(2)}x`,
  );
}

// The whole step's matmuls in one graph.
const step = await pair(shapes, 1);
const t = await timeTurns({ fp32: step.fp32, int8: step.int8 }, step.feeds, 40);
const ceiling = t.fp32 / t.int8;
console.log(
  `one decode step's weight matmuls only, medians of ${rounds} turns: fp32 ${t.fp32.toFixed(0)} µs, int8 ${t.int8.toFixed(0)} µs: ${ceiling.toFixed(2)}x (the int8 decode target is 3.2x)`,
);
console.log(JSON.stringify({ preset: values.preset, matmuls: shapes.length, fp32Us: t.fp32, int8Us: t.int8, ceiling, perShape }));
