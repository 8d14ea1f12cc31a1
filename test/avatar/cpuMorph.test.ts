// The avatar page's CPU blend shapes (web/avatar/cpuMorph.ts) against a dense reference, on
// random targets and on the shipped head's own morph targets.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { buildHeadGeometry } from "../../src/apps/avatar/head/index.js";
import { blendTargets, CpuMorphedMesh, sparseTarget } from "../../web/avatar/cpuMorph.js";

/** base + Σ w_t · delta_t over every vertex (what three.js computes in the vertex shader). */
function denseBlend(base: Float32Array, deltas: readonly Float32Array[], weights: readonly number[]): Float64Array {
  const out = Float64Array.from(base);
  deltas.forEach((d, t) => {
    for (let i = 0; i < out.length; i++) out[i] += weights[t] * d[i];
  });
  return out;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test("sparse blending equals the dense blend (property)", () => {
  const vertices = 12;
  const delta = fc.float32Array({ minLength: vertices * 3, maxLength: vertices * 3, noNaN: true, min: -1, max: 1 });
  // Mostly-zero deltas, as a blend shape that moves a few vertices.
  const sparseDelta = fc
    .tuple(delta, fc.array(fc.boolean(), { minLength: vertices, maxLength: vertices }))
    .map(([d, keep]) => d.map((v, i) => (keep[Math.floor(i / 3)] ? v : 0)));
  fc.assert(
    fc.property(
      fc.float32Array({ minLength: vertices * 3, maxLength: vertices * 3, noNaN: true, min: -1, max: 1 }),
      fc.array(fc.tuple(sparseDelta, sparseDelta, fc.oneof(fc.constant(0), fc.double({ min: -1, max: 1, noNaN: true }))), {
        minLength: 1,
        maxLength: 6,
      }),
      (base, targets) => {
        const sparse = targets.map(([p, n]) => sparseTarget(p, n));
        for (const [i, [p, n]] of targets.entries())
          for (let v = 0; v < vertices; v++) {
            const moves = [0, 1, 2].some((c) => p[v * 3 + c] !== 0 || n[v * 3 + c] !== 0);
            assert.equal(sparse[i].vertices.includes(v), moves, `target keeps vertex ${v} iff it moves it`);
          }
        const weights = targets.map(([, , w]) => w);
        const out = new Float32Array(base.length);
        for (const [which, slot] of [
          ["positionDeltas", 0],
          ["normalDeltas", 1],
        ] as const) {
          blendTargets(base, sparse, weights, which, out);
          const reference = denseBlend(
            base,
            targets.map((t) => t[slot]),
            weights,
          );
          assert.ok(maxDiff(out, reference) < 1e-5, which);
        }
      },
    ),
  );
});

test("the shipped head's blend shapes blend on the CPU as in the shader; unchanged weights skip the upload", () => {
  const geometry = buildHeadGeometry();
  const part = geometry.parts.find((p) => p.targets.length > 0)!;
  const jaw = geometry.morphNames.indexOf("jawOpen");
  const blink = geometry.morphNames.indexOf("eyeBlinkLeft");
  assert.ok(jaw >= 0 && blink >= 0);
  const positions = part.positions.slice();
  const normals = part.normals.slice();
  const targets = part.targets.map((t) => sparseTarget(t.position, t.normal));
  const mesh = new CpuMorphedMesh(positions, normals, targets);
  // Each target keeps only the vertices it moves: far fewer than the mesh has.
  const vertexCount = part.positions.length / 3;
  const kept = targets.reduce((n, t) => n + t.vertices.length, 0);
  assert.ok(kept < 0.5 * vertexCount * targets.length, `${kept} kept of ${vertexCount * targets.length}`);

  const weights = new Float32Array(targets.length);
  weights[jaw] = 0.8;
  weights[blink] = 1;
  assert.equal(mesh.apply(weights), true);
  const dense = (which: "position" | "normal", base: Float32Array) =>
    denseBlend(
      base,
      part.targets.map((t) => t[which]),
      Array.from(weights),
    );
  assert.ok(maxDiff(positions, dense("position", part.positions)) < 1e-6);
  assert.ok(maxDiff(normals, dense("normal", part.normals)) < 1e-6);
  assert.ok(maxDiff(positions, part.positions) > 1e-3, "the jaw moved vertices");
  assert.equal(mesh.apply(weights), false, "same weights: nothing to upload");
  // three.js keeps influences as float64 numbers: 0.3 is not a float32 value, and still unchanged.
  const influences = Array.from({ length: targets.length }, (_, i) => (i === jaw ? 0.3 : 0));
  assert.equal(mesh.apply(influences), true);
  assert.equal(mesh.apply([...influences]), false, "same float64 weights: nothing to upload");
  assert.equal(mesh.apply(new Float32Array(targets.length)), true);
  assert.equal(maxDiff(positions, part.positions), 0, "all weights zero: the rest pose again");
});
