// Symmetric InfoNCE: the value against a plain-loop float64 reference (fixed and learnable
// temperature, including the clamp), and the gradient against finite differences.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Graph, toOnnx } from "../../src/graph/index.js";
import { compile, type HostTensor } from "../../src/runtime/session.js";
import { infoNceLoss } from "../../src/train/losses.js";
import { formatReport, gradcheck, randn } from "../helpers/gradcheck.js";

/** The loss written out: mean over rows and columns of -log softmax(sim / τ)[diagonal], halved. */
function referenceInfoNce(a: number[], b: number[], n: number, e: number, scale: number): number {
  const logits: number[][] = [];
  for (let i = 0; i < n; i++) {
    logits.push([]);
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < e; k++) dot += a[i * e + k] * b[j * e + k];
      logits[i].push(dot * scale);
    }
  }
  const nll = (row: number[], target: number) => {
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    return lse - row[target];
  };
  let rows = 0;
  let cols = 0;
  for (let i = 0; i < n; i++) {
    rows += nll(logits[i], i);
    cols += nll(
      logits.map((r) => r[i]),
      i,
    );
  }
  return (rows / n + cols / n) / 2;
}

const f64 = (shape: number[], data: number[]): HostTensor => ({ dtype: "float64", shape, data: Float64Array.from(data) });

async function graphInfoNce(a: number[], b: number[], n: number, e: number, o: { temperature?: number; logitScale?: number }) {
  const g = new Graph();
  const x = g.input("a", "float64", [n, e]);
  const y = g.input("b", "float64", [n, e]);
  const s = o.logitScale === undefined ? undefined : g.input("s", "float64", []);
  const loss = infoNceLoss(x, y, { temperature: o.temperature, logitScale: s });
  const model = await compile(toOnnx({ outputs: { loss }, name: "infonce" }), { threads: 1 });
  const feeds: Record<string, HostTensor> = { a: f64([n, e], a), b: f64([n, e], b) };
  if (o.logitScale !== undefined) feeds.s = f64([], [o.logitScale]);
  return Number((await model.run(feeds)).loss.data[0]);
}

test("InfoNCE equals the plain-loop reference (fixed τ, default 0.1, and learnable scale with its clamp)", async () => {
  const n = 6;
  const e = 5;
  const a = randn([n, e], 1);
  const b = randn([n, e], 2);
  const close = (got: number, want: number, what: string) =>
    assert.ok(Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want)), `${what}: ${got} vs reference ${want}`);
  close(await graphInfoNce(a, b, n, e, {}), referenceInfoNce(a, b, n, e, 10), "default τ = 0.1");
  close(await graphInfoNce(a, b, n, e, { temperature: 0.5 }), referenceInfoNce(a, b, n, e, 2), "τ = 0.5");
  close(await graphInfoNce(a, b, n, e, { logitScale: Math.log(3) }), referenceInfoNce(a, b, n, e, 3), "learnable 1/τ = 3");
  close(await graphInfoNce(a, b, n, e, { logitScale: 7 }), referenceInfoNce(a, b, n, e, 100), "1/τ clamped to 100");
  close(await graphInfoNce(a, b, n, e, { logitScale: -2 }), referenceInfoNce(a, b, n, e, 1), "1/τ clamped to 1");
  // Perfectly matched unit pairs that are orthogonal to every other pair: loss ln(1 + (n-1) e^{-1/τ}).
  const eye = Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
  close(await graphInfoNce(eye, eye, n, n, {}), Math.log(1 + (n - 1) * Math.exp(-10)), "orthogonal pairs");
});

test("InfoNCE gradients match finite differences in float64 (embeddings and the learnable scale)", async () => {
  const n = 4;
  const e = 3;
  const fixed = await gradcheck(
    (_g, [a, b]) => infoNceLoss(a, b, { temperature: 0.3 }),
    [
      { label: "image", shape: [n, e], data: randn([n, e], 3) },
      { label: "text", shape: [n, e], data: randn([n, e], 4) },
    ],
  );
  assert.ok(fixed.ok, formatReport("infoNce fixed τ", fixed));
  const learnable = await gradcheck(
    (_g, [a, b, s]) => infoNceLoss(a, b, { logitScale: s }),
    [
      { label: "image", shape: [n, e], data: randn([n, e], 5) },
      { label: "text", shape: [n, e], data: randn([n, e], 6) },
      { label: "logitScale", shape: [], data: [1.2] },
    ],
  );
  assert.ok(learnable.ok, formatReport("infoNce learnable τ", learnable));
});

test("InfoNCE rejects mismatched batches", () => {
  const g = new Graph();
  assert.throws(
    () => infoNceLoss(g.input("a", "float32", [4, 8]), g.input("b", "float32", [3, 8])),
    /expected image and text \[B, E\]/,
  );
});
