// setCrossEntropy against a plain reference, and its gradient against finite differences
// of that reference, in float64 through ONNX Runtime.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Graph, grad, op, toOnnx } from "../../src/graph/index.js";
import { compile } from "../../src/runtime/session.js";
import { crossEntropy, setCrossEntropy } from "../../src/train/losses.js";

const N = 4;
const C = 5;

/** -log Σ_{c allowed} softmax(z)_c per row, in plain float64. */
function reference(z: number[], allowed: boolean[][]): number[] {
  return allowed.map((row, n) => {
    const zs = z.slice(n * C, (n + 1) * C);
    const max = Math.max(...zs);
    const total = zs.reduce((s, v) => s + Math.exp(v - max), 0);
    const kept = zs.reduce((s, v, c) => s + (row[c] ? Math.exp(v - max) : 0), 0);
    return -Math.log(kept / total);
  });
}

async function build() {
  const g = new Graph();
  const logits = g.input("logits", "float64", [N, C]);
  const bias = g.input("bias", "float64", [N, C]);
  const any = g.input("any", "int64", [N]);
  const perRow = setCrossEntropy(logits, bias, any);
  const mean = op.reduceMean(perRow);
  const [dLogits] = grad(mean, [logits]);
  return compile(toOnnx({ outputs: { perRow, mean, dLogits, plain: crossEntropy(logits, any) } }), { threads: 1 });
}

test("setCrossEntropy is -log of the allowed classes' probability, with the matching gradient", async () => {
  const model = await build();
  const rows = fc.array(fc.boolean(), { minLength: C, maxLength: C }).filter((r) => r.some(Boolean));
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.double({ min: -30, max: 30, noNaN: true }), { minLength: N * C, maxLength: N * C }),
      fc.array(rows, { minLength: N, maxLength: N }),
      async (z, allowed) => {
        const feeds = {
          logits: { dtype: "float64" as const, shape: [N, C], data: Float64Array.from(z) },
          bias: { dtype: "float64" as const, shape: [N, C], data: Float64Array.from(allowed.flat(), (a) => (a ? 0 : -1e4)) },
          any: { dtype: "int64" as const, shape: [N], data: BigInt64Array.from(allowed, (r) => BigInt(r.indexOf(true))) },
        };
        const out = await model.run(feeds);
        const got = Array.from(out.perRow.data as Float64Array);
        const want = reference(z, allowed);
        for (const [n, v] of got.entries())
          assert.ok(Math.abs(v - want[n]) <= 1e-9 * Math.max(1, want[n]), `row ${n}: ${v} vs ${want[n]}`);
        // Gradient: central differences of the reference mean.
        const d = out.dLogits.data as Float64Array;
        const h = 1e-5;
        for (let k = 0; k < N * C; k++) {
          const up = [...z];
          const down = [...z];
          up[k] += h;
          down[k] -= h;
          const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / N;
          const numeric = (mean(reference(up, allowed)) - mean(reference(down, allowed))) / (2 * h);
          assert.ok(Math.abs(d[k] - numeric) <= 1e-6, `d/dz[${k}]: ${d[k]} vs ${numeric}`);
        }
        // One allowed class per row: exactly the ordinary cross-entropy.
        if (allowed.every((r) => r.filter(Boolean).length === 1))
          assert.ok(Math.abs((out.mean.data[0] as number) - (out.plain.data[0] as number)) < 1e-12);
      },
    ),
    { numRuns: 60 },
  );
});

test("setCrossEntropy with one allowed class per row equals crossEntropy", async () => {
  const model = await build();
  const z = Array.from({ length: N * C }, (_, k) => Math.sin(k * 1.7) * 4);
  const any = [0, 3, 4, 1];
  const out = await model.run({
    logits: { dtype: "float64", shape: [N, C], data: Float64Array.from(z) },
    bias: {
      dtype: "float64",
      shape: [N, C],
      data: Float64Array.from({ length: N * C }, (_, k) => (k % C === any[Math.floor(k / C)] ? 0 : -1e4)),
    },
    any: { dtype: "int64", shape: [N], data: BigInt64Array.from(any, BigInt) },
  });
  assert.ok(Math.abs((out.mean.data[0] as number) - (out.plain.data[0] as number)) < 1e-12);
});
