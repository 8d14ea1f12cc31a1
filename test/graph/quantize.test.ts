// The int8 pass's weights fit this CPU's integer kernels: ONNX Runtime multiplies uint8
// activations by int8 weights, and x86 CPUs without VNNI add two products into an int16 that
// saturates. Activations near 255 (all positive, one large) with full-range weights overflow
// there; the weights' range (INT8_WEIGHT_MAX) must keep every product sum in range.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Graph, INT8_WEIGHT_MAX, op, quantizeColumns, toOnnx } from "../../src/graph/index.js";
import { Rng } from "../../src/runtime/rng.js";
import { compile } from "../../src/runtime/session.js";

test(`DynamicQuantizeMatMul with |q| <= ${INT8_WEIGHT_MAX} matches fp32 on activations that saturate int16 sums`, async () => {
  const k = 256;
  const n = 64;
  const rng = new Rng(11);
  const w = Float32Array.from({ length: k * n }, () => rng.normal());
  // Positive activations near their maximum: uint8 codes near 255 for every element.
  const x = Float32Array.from({ length: k }, () => 0.9 + 0.1 * rng.next());
  const g = new Graph();
  const input = g.input("x", "float32", [1, k]);
  const { q, scale } = quantizeColumns(w, k, n);
  assert.ok(
    q.every((v) => Math.abs(v) <= INT8_WEIGHT_MAX),
    "weights stay in the saturation-safe range",
  );
  const out = op.dynamicQuantizeMatMul(input, op.constant(g, q, [k, n]), op.constant(g, scale, [n]));
  const compiled = await compile(toOnnx({ outputs: { out }, paramValue: () => new Float32Array(0) }), { threads: 1 });
  const got = (await compiled.run({ x: { dtype: "float32", shape: [1, k], data: x } })).out.data as Float32Array;
  let worst = 0;
  let norm = 0;
  for (let c = 0; c < n; c++) {
    let exact = 0;
    for (let r = 0; r < k; r++) exact += x[r] * w[r * n + c];
    worst = Math.max(worst, Math.abs(got[c] - exact));
    norm = Math.max(norm, Math.abs(exact));
  }
  assert.ok(worst < 0.03 * norm, `largest error ${worst.toFixed(3)} of output range ${norm.toFixed(3)}`);
});
