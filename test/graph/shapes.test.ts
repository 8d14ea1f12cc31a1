// Static shape inference of every op builder, the errors it gives on a mismatch, and
// properties of the dimension algebra (broadcasting, symbolic products).

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  broadcastShapes,
  type Dim,
  type DType,
  dimDiv,
  dimEq,
  dimMul,
  Graph,
  normDim,
  numel,
  op,
  type Shape,
  type Tensor,
  toOnnx,
} from "../../src/graph/index.js";
import { compile } from "../../src/runtime/session.js";

const shapeOf = (t: Tensor): Dim[] => [...t.shape];
const ids = (g: Graph, values: number[], shape: number[]): Tensor => op.constant(g, BigInt64Array.from(values, BigInt), shape);

function inputs(shapes: Record<string, Shape>, dtype: DType = "float32"): { g: Graph; t: Record<string, Tensor> } {
  const g = new Graph();
  const t: Record<string, Tensor> = {};
  for (const [name, shape] of Object.entries(shapes)) t[name] = g.input(name, dtype, shape);
  return { g, t };
}

// ------------------------------------------------------------ elementwise

test("elementwise ops broadcast numpy-style, symbolic dims included", () => {
  const { t } = inputs({ a: [3, 1, 5], b: [4, 1], s: [], p: ["B", 1, 8], q: ["T", 1] });
  assert.deepEqual(shapeOf(op.add(t.a, t.b)), [3, 4, 5]);
  assert.deepEqual(shapeOf(op.mul(t.s, t.b)), [4, 1]);
  assert.deepEqual(shapeOf(op.sub(2, t.a)), [3, 1, 5]);
  assert.deepEqual(shapeOf(op.add(t.p, t.q)), ["B", "T", 8]);
  const lt = op.less(t.a, t.b);
  assert.equal(lt.dtype, "bool");
  assert.deepEqual(shapeOf(lt), [3, 4, 5]);
  assert.deepEqual(shapeOf(op.where(op.greater(t.b, 0), t.a, 0)), [3, 4, 5]);
  assert.deepEqual(shapeOf(op.exp(t.p)), ["B", 1, 8]);
});

test("elementwise errors name both shapes, the axis, or the dtypes", () => {
  const { g, t } = inputs({ a: [3, 4], b: [5], c: ["B", 4], d: ["T", 4] });
  assert.throws(() => op.add(t.a, t.b), /add: shapes \[3, 4\] and \[5\] do not broadcast \(axis 1: 4 vs 5\)/);
  assert.throws(() => op.mul(t.c, t.d), /mul: shapes \[B, 4\] and \[T, 4\] do not broadcast \(axis 0: B vs T\)/);
  const f64 = g.input("f64", "float64", [3, 4]);
  assert.throws(() => op.add(t.a, f64), /add: dtypes differ \(float32 vs float64\); cast one first/);
  assert.throws(() => op.where(t.a, t.a, t.a), /where: condition must be bool, got float32/);
  assert.throws(() => op.exp(ids(g, [1], [1])), /exp: expected a float tensor, got int64/);
});

// ------------------------------------------------------------ contractions

test("matmul broadcasts batch dims and checks the inner dim", () => {
  const { t } = inputs({ a: [2, 1, 3, 4], b: [5, 4, 6], x: ["B", "T", 8], w: [8, 16], k: ["B", "T", 8] });
  assert.deepEqual(shapeOf(op.matmul(t.a, t.b)), [2, 5, 3, 6]);
  assert.deepEqual(shapeOf(op.matmul(t.x, t.w)), ["B", "T", 16]);
  assert.deepEqual(shapeOf(op.matmul(t.x, op.transposeLast(t.k))), ["B", "T", "T"]);
  assert.throws(() => op.matmul(t.a, t.w), /matmul: inner dimensions differ: \[2, 1, 3, 4\] @ \[8, 16\]/);
  const { t: u } = inputs({ v: [3], m: [3, 4], p: [2, 3, 4], q: [3, 4, 5] });
  assert.throws(() => op.matmul(u.v, u.m), /matmul: both operands need rank >= 2, got \[3\] @ \[3, 4\]/);
  assert.throws(() => op.matmul(u.p, u.q), /matmul batch: shapes \[2\] and \[3\] do not broadcast/);
});

test("reductions, softmax, cumSum and topK", () => {
  const { g, t } = inputs({ x: [3, 10], y: ["B", "T", 8] });
  assert.deepEqual(shapeOf(op.reduceSum(t.x)), []);
  assert.deepEqual(shapeOf(op.reduceMean(t.y, [-1, 0, -1])), ["T"]);
  assert.deepEqual(shapeOf(op.reduceMax(t.y, 1, true)), ["B", 1, 8]);
  assert.deepEqual(shapeOf(op.softmax(t.y, 1)), ["B", "T", 8]);
  assert.deepEqual(shapeOf(op.cumSum(t.x, -1, { reverse: true })), [3, 10]);
  const top = op.topK(t.x, 4);
  assert.deepEqual(
    [shapeOf(top.values), top.values.dtype, shapeOf(top.indices), top.indices.dtype],
    [[3, 4], "float32", [3, 4], "int64"],
  );
  assert.deepEqual(shapeOf(op.topK(t.y, 2, 1).values), ["B", 2, 8]);
  assert.throws(() => op.topK(t.x, 11), /topK: k=11 must be an integer in \[1, 10\] for axis 1 of \[3, 10\]/);
  assert.throws(() => op.topK(t.x, 0, 0), /topK: k=0 must be an integer in \[1, 3\]/);
  assert.throws(() => op.reduceSum(t.x, 2), /reduceSum: axis 2 is out of range for rank 2/);
  assert.throws(() => op.softmax(t.x, -3), /softmax: axis -3 is out of range for rank 2/);
  assert.throws(() => op.softmax(ids(g, [1, 2], [2])), /softmax: expected a float tensor, got int64/);
});

test("conv2d and convTranspose2d output sizes", () => {
  const { g, t } = inputs({ x: [1, 3, 7, 9], w: [4, 3, 3, 2], small: [1, 3, 3, 3], x2: [1, 2, 3, 3], wt: [2, 3, 2, 3] });
  // H: (7 + 1 + 1 - 3) / 2 + 1 = 4; W: span 2*(2-1)+1 = 3, (9 + 2 - 3) / 2 + 1 = 5
  assert.deepEqual(shapeOf(op.conv2d(t.x, t.w, { stride: 2, padding: 1, dilation: [1, 2] })), [1, 4, 4, 5]);
  assert.deepEqual(shapeOf(op.conv2d(t.x, t.w)), [1, 4, 5, 8]);
  // asymmetric pads [top, left, bottom, right]
  assert.deepEqual(shapeOf(op.conv2d(t.x, t.w, { padding: [2, 0, 0, 1] })), [1, 4, 7, 9]);
  // H: 2*(3-1) + 1 + 1*(2-1) + 1 - 2 = 5; W: 2*(3-1) + 0 + (3-1) + 1 - 2 = 5
  assert.deepEqual(shapeOf(op.convTranspose2d(t.x2, t.wt, { stride: 2, padding: 1, outputPadding: [1, 0] })), [1, 3, 5, 5]);
  assert.throws(() => op.conv2d(t.x, g.input("w2", "float32", [4, 2, 3, 3])), /conv2d: x has 3 channels but w expects 2/);
  assert.throws(() => op.conv2d(t.small, g.input("w5", "float32", [1, 3, 5, 5])), /conv2d: kernel 5x5 does not fit input 3x3/);
  assert.throws(
    () => op.conv2d(g.input("r3", "float32", [3, 7, 9]), t.w),
    /conv2d: x and w must be rank 4 \(NCHW, OIHW\), got \[3, 7, 9\]/,
  );
  assert.throws(() => op.convTranspose2d(t.x, t.wt), /convTranspose2d: x has 3 channels but w expects 2/);
  assert.throws(() => op.convTranspose2d(g.input("t3", "float32", [2, 3, 3]), t.wt), /convTranspose2d: x and w must be rank 4/);
});

// ------------------------------------------------------------ layout

test("reshape infers -1 and derives symbolic dims", () => {
  const { t } = inputs({ x: [2, 3, 4], y: ["B", "T", 8] });
  assert.deepEqual(shapeOf(op.reshape(t.x, [4, -1])), [4, 6]);
  assert.deepEqual(shapeOf(op.reshape(t.x, [-1])), [24]);
  assert.deepEqual(shapeOf(op.reshape(t.y, ["B*T", 8])), ["B*T", 8]);
  assert.deepEqual(shapeOf(op.reshape(t.y, ["T*B", 8])), ["B*T", 8], "symbolic products are normalised");
  assert.deepEqual(shapeOf(op.reshape(t.y, [-1, 8])), ["B*T", 8]);
  assert.deepEqual(shapeOf(op.reshape(t.y, ["B", -1])), ["B", "8*T"]);
  const flat = op.reshape(t.y, ["B*T", 8]);
  assert.deepEqual(shapeOf(op.reshape(flat, ["B", "T", 2, -1])), ["B", "T", 2, 4]);
  assert.equal(op.reshape(t.x, [2, 3, 4]), t.x, "a no-op reshape adds no node");
  assert.throws(() => op.reshape(t.x, [5, 5]), /reshape: \[2, 3, 4\] has 24 elements but \[5, 5\] has 25/);
  assert.throws(() => op.reshape(t.x, [5, -1]), /reshape: cannot reshape \[2, 3, 4\] to \[5, -1\]/);
  assert.throws(() => op.reshape(t.x, [-1, -1]), /reshape: at most one -1 in \[-1, -1\]/);
  assert.throws(() => op.reshape(t.y, ["B", 16, -1]), /reshape: cannot reshape \[B, T, 8\] to \[B, 16, -1\]/);
  assert.throws(() => op.reshape(t.y, ["B*T", 4]), /reshape: \[B, T, 8\] has 8\*B\*T elements but \[B\*T, 4\] has 4\*B\*T/);
});

test("transpose, squeeze, unsqueeze, expand", () => {
  const { t } = inputs({ x: [2, 3, 4], y: ["B", 1, 8], c: [3, 1] });
  assert.deepEqual(shapeOf(op.transpose(t.x, [2, 0, 1])), [4, 2, 3]);
  assert.deepEqual(shapeOf(op.transposeLast(t.y)), ["B", 8, 1]);
  assert.deepEqual(shapeOf(op.squeeze(t.y, 1)), ["B", 8]);
  assert.deepEqual(shapeOf(op.unsqueeze(t.x, -1)), [2, 3, 4, 1]);
  assert.deepEqual(shapeOf(op.unsqueeze(t.x, 0)), [1, 2, 3, 4]);
  assert.deepEqual(shapeOf(op.expand(t.c, [2, 3, 4])), [2, 3, 4]);
  assert.deepEqual(shapeOf(op.expand(t.y, ["B", "T", 8])), ["B", "T", 8]);
  assert.throws(() => op.transpose(t.x, [0, 0, 1]), /transpose: perm \[0, 0, 1\] is not a permutation of 3 axes/);
  assert.throws(() => op.squeeze(t.x, 1), /squeeze: axis 1 of \[2, 3, 4\] is not 1/);
  assert.throws(() => op.expand(t.x, [2, 5, 4]), /expand: shapes \[2, 3, 4\] and \[2, 5, 4\] do not broadcast/);
  assert.throws(() => op.expand(t.x, [3, 4]), /expand: \[2, 3, 4\] cannot expand to \[3, 4\]/);
});

test("concat, slice, pad, split", () => {
  const { t } = inputs({ a: [2, 1, 3], b: [2, 3, 3], c: [2, 2, 3], p: ["B", 2], q: ["B", 3], r: ["T", 3], x: [4, 5] });
  assert.deepEqual(shapeOf(op.concat([t.a, t.b, t.c], 1)), [2, 6, 3]);
  assert.deepEqual(shapeOf(op.concat([t.p, t.q], -1)), ["B", 5]);
  assert.equal(op.concat([t.a], 0), t.a);
  assert.throws(() => op.concat([t.a, t.b], 2), /concat: shapes \[2, 1, 3\] and \[2, 3, 3\] differ off axis 2/);
  assert.throws(() => op.concat([t.q, t.r], 1), /concat: shapes \[B, 3\] and \[T, 3\] differ off axis 1/);
  // A symbolic concat axis gets the opaque sum symbol (a KV cache: past P + new T positions).
  assert.deepEqual(shapeOf(op.concat([t.q, t.r], 0)), ["(B+T)", 3]);
  assert.throws(() => op.concat([], 0), /concat: no tensors given/);

  assert.deepEqual(shapeOf(op.slice(t.x, 1, 1, -1)), [4, 3]);
  assert.deepEqual(shapeOf(op.slice(t.x, 0, -3)), [3, 5]);
  assert.deepEqual(shapeOf(op.slice(t.x, -1, 2, 99)), [4, 3], "end is clamped");
  assert.deepEqual(shapeOf(op.slice(t.p, 1, 0, 1)), ["B", 1]);
  assert.equal(op.slice(t.x, 0, 0), t.x);
  assert.throws(() => op.slice(t.x, 0, 3, 1), /slice: \[3:1\] of axis 0 \(size 4\) is empty/);
  assert.throws(() => op.slice(t.p, 0, 0, 1), /slice: axis 0 of \[B, 2\] is symbolic/);
  // a symbolic end takes the first T rows of a longer static axis (positions table -> sequence)
  assert.deepEqual(shapeOf(op.slice(t.x, 0, 0, "T")), ["T", 5]);
  assert.throws(() => op.slice(t.x, 0, 1, "T"), /slice: a symbolic end needs start 0/);

  assert.deepEqual(shapeOf(op.pad(t.x, 0, 2, 1)), [7, 5]);
  assert.deepEqual(shapeOf(op.pad(t.p, -1, 0, 3)), ["B", 5]);
  assert.throws(() => op.pad(t.p, 0, 1, 1), /pad: axis 0 of \[B, 2\] is symbolic/);
  assert.throws(() => op.pad(t.x, 0, -1, 1), /pad: amounts must be >= 0/);

  assert.deepEqual(op.split(t.x, 1, [2, 1, 2]).map(shapeOf), [
    [4, 2],
    [4, 1],
    [4, 2],
  ]);
  assert.throws(() => op.split(t.x, 1, [2, 2]), /split: sizes \[2,2\] do not add up to 5/);
});

// ------------------------------------------------------------ indexing

test("gather, gatherElements, gatherND and the scatters", () => {
  const { g, t } = inputs({ x: [5, 7], table: [11, 8], tok: ["B", "T"], y: [3, 4, 2] }, "float32");
  const tok = g.input("tokens", "int64", ["B", "T"]);
  assert.deepEqual(shapeOf(op.gather(t.x, ids(g, [0, 1, 2, 3, 4, 5], [2, 3]), 1)), [5, 2, 3]);
  assert.deepEqual(shapeOf(op.gather(t.x, ids(g, [4], []), 0)), [7]);
  assert.deepEqual(shapeOf(op.gather(t.table, tok)), ["B", "T", 8]);
  assert.deepEqual(shapeOf(op.gatherElements(t.x, ids(g, [0, 1, 2], [1, 3]), 1)), [1, 3]);
  assert.deepEqual(shapeOf(op.gatherND(t.y, ids(g, [0, 1, 2, 3], [2, 2]))), [2, 2]);
  assert.deepEqual(shapeOf(op.gatherND(t.y, ids(g, [0, 2], [2, 1]))), [2, 4, 2]);
  assert.deepEqual(shapeOf(op.oneHot(tok, 6)), ["B", "T", 6]);
  const updates = g.input("updates", "float32", [2, 4, 2]);
  assert.deepEqual(shapeOf(op.scatterNDAdd(t.y, ids(g, [0, 2], [2, 1]), updates)), [3, 4, 2]);
  assert.deepEqual(shapeOf(op.scatterElementsAdd(t.x, ids(g, [0, 1], [1, 2]), g.input("u2", "float32", [1, 2]), 1)), [5, 7]);

  assert.throws(() => op.gather(t.x, t.tok), /gather: indices must be int64, got float32/);
  assert.throws(() => op.gather(t.x, ids(g, [0], [1]), 2), /gather: axis 2 is out of range for rank 2/);
  assert.throws(() => op.gatherElements(t.x, ids(g, [0], [1]), 0), /gatherElements: indices rank 1 != data rank 2/);
  assert.throws(() => op.gatherND(t.x, ids(g, [0, 0, 0], [1, 3])), /gatherND: last index dim 3 must be static and <= rank 2/);
  assert.throws(
    () => op.scatterNDAdd(t.y, ids(g, [0, 2], [2, 1]), g.input("bad", "float32", [2, 4])),
    /scatterNDAdd: updates must be \[2, 4, 2\], got \[2, 4\]/,
  );
  assert.throws(
    () => op.scatterElementsAdd(t.x, ids(g, [0, 1], [1, 2]), g.input("u3", "float32", [2, 1]), 0),
    /scatterElementsAdd: indices \[1, 2\] and updates \[2, 1\] differ/,
  );
});

test("graph inputs and parameters validate names and shapes", () => {
  const g = new Graph();
  g.input("x", "float32", [2]);
  assert.throws(() => g.input("x", "float32", [3]), /input "x" is already defined/);
  assert.throws(() => g.param("x", [3], { kind: "constant", value: 0 }), /parameter "x" is already defined/);
  assert.throws(
    () => g.param("w", [3, 0], { kind: "constant", value: 0 }),
    /parameter "w": shape \[3, 0\] must be positive integers/,
  );
  assert.throws(() => op.constant(g, new Float32Array(5), [2, 3]), /constant: 5 values do not fill shape \[2, 3\]/);
  assert.deepEqual(shapeOf(op.full(g, ["B", 4], 0)), ["B", 4]);
  const h = new Graph();
  assert.throws(
    () => op.add(g.input("y", "float32", [2]), h.input("z", "float32", [2])),
    /add: input .* belongs to another graph/,
  );
});

// ------------------------------------------------------------ inferred shapes match ONNX Runtime's

test("inferred static shapes equal the shapes ONNX Runtime produces", async () => {
  const g = new Graph();
  const img = g.input("img", "float32", [2, 3, 7, 9]);
  const seq = g.input("seq", "float32", ["B", "T", 8]);
  const k = g.param("k", [4, 3, 3, 2], { kind: "constant", value: 0.1 });
  const kt = g.param("kt", [4, 2, 2, 3], { kind: "constant", value: 0.1 });
  const conv = op.conv2d(img, k, { stride: 2, padding: [1, 0, 2, 1], dilation: [1, 2] });
  const outs: Record<string, Tensor> = {
    conv,
    convT: op.convTranspose2d(conv, kt, { stride: [2, 1], padding: [0, 1, 1, 0], dilation: [1, 2], outputPadding: [1, 0] }),
    matmul: op.matmul(op.reshape(img, [2, 1, 21, 9]), g.param("m", [3, 9, 5], { kind: "constant", value: 1 })),
    flat: op.reshape(seq, [-1, 8]),
    heads: op.transpose(op.reshape(seq, ["B", "T", 2, 4]), [0, 2, 1, 3]),
    top: op.topK(seq, 3, 1).values,
    gathered: op.gather(seq, ids(g, [0, 2, 1, 0], [2, 2]), 2),
    padded: op.pad(op.slice(seq, -1, 1, -2), -1, 2, 0),
    mixed: op.concat([seq, op.reduceMax(seq, -1, true)], -1),
    positions: op.add(seq, op.slice(g.param("pos", [16, 8], { kind: "constant", value: 0 }), 0, 0, "T")),
  };
  const model = await compile(toOnnx({ outputs: outs, paramValue: () => undefined }));
  const B = 2;
  const T = 5;
  const feeds = {
    img: { dtype: "float32" as const, shape: [2, 3, 7, 9], data: new Float32Array(2 * 3 * 7 * 9) },
    seq: { dtype: "float32" as const, shape: [B, T, 8], data: new Float32Array(B * T * 8).map((_, i) => Math.sin(i)) },
    k: { dtype: "float32" as const, shape: [4, 3, 3, 2], data: new Float32Array(72) },
    kt: { dtype: "float32" as const, shape: [4, 2, 2, 3], data: new Float32Array(48) },
    m: { dtype: "float32" as const, shape: [3, 9, 5], data: new Float32Array(135) },
    pos: { dtype: "float32" as const, shape: [16, 8], data: new Float32Array(128) },
  };
  const result = await model.run(feeds);
  const bind = (d: Dim): number => {
    if (typeof d === "number") return d;
    return d.split("*").reduce((n, f) => n * (f === "B" ? B : f === "T" ? T : Number(f)), 1);
  };
  for (const [name, t] of Object.entries(outs)) {
    assert.deepEqual(result[name].shape, t.shape.map(bind), `${name}: inferred [${t.shape.join(", ")}]`);
  }
});

// ------------------------------------------------------------ properties of the dim algebra

/** Plain numpy broadcasting of static shapes, or undefined when they do not broadcast. */
function referenceBroadcast(a: readonly number[], b: readonly number[]): number[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else return undefined;
  }
  return out;
}

const tryBroadcast = (a: Shape, b: Shape): Dim[] | undefined => {
  try {
    return broadcastShapes(a, b, "test");
  } catch (e) {
    assert.match((e as Error).message, /test: shapes \[.*\] and \[.*\] do not broadcast \(axis \d+: /);
    return undefined;
  }
};

/** Small dims so that equal and 1 dims come up often. */
const staticShape = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 5 });
const symbolName = fc.constantFrom("B", "T", "H");
const symbolicDim: fc.Arbitrary<Dim> = fc.oneof(
  fc.integer({ min: 1, max: 3 }),
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.array(symbolName, { minLength: 1, maxLength: 3 }))
    .map(([c, names]) => (c === 1 ? names.join("*") : [String(c), ...names].join("*"))),
);
const symbolicShape = fc.array(symbolicDim, { maxLength: 4 });

test("property: broadcastShapes matches a plain reference on static shapes", () => {
  fc.assert(
    fc.property(staticShape, staticShape, (a, b) => {
      assert.deepEqual(tryBroadcast(a, b), referenceBroadcast(a, b));
    }),
    { numRuns: 500 },
  );
  // shapes built to broadcast: the same base with some dims replaced by 1 and leading dims dropped
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.boolean(), fc.boolean()), { maxLength: 5 }),
      fc.nat(5),
      fc.nat(5),
      (spec, dropA, dropB) => {
        const a = spec.map(([d, oneA]) => (oneA ? 1 : d)).slice(Math.min(dropA, spec.length));
        const b = spec.map(([d, , oneB]) => (oneB ? 1 : d)).slice(Math.min(dropB, spec.length));
        const out = broadcastShapes(a, b, "test");
        assert.equal(out.length, Math.max(a.length, b.length));
        out.forEach((d, i) => {
          const k = spec.length - out.length + i;
          const [base, oneA, oneB] = spec[k];
          // a dropped leading dim acts as 1
          const isOneA = oneA || k < spec.length - a.length;
          const isOneB = oneB || k < spec.length - b.length;
          assert.equal(d, isOneA && isOneB ? 1 : base);
        });
      },
    ),
    { numRuns: 300 },
  );
});

test("property: broadcastShapes is commutative, keeps the longer rank, and is idempotent", () => {
  fc.assert(
    fc.property(fc.oneof(staticShape, symbolicShape), fc.oneof(staticShape, symbolicShape), (a, b) => {
      const ab = tryBroadcast(a, b);
      const ba = tryBroadcast(b, a);
      assert.deepEqual(ab, ba);
      if (ab === undefined) return;
      assert.equal(ab.length, Math.max(a.length, b.length));
      // every result dim comes from one of the operands (or is 1 from padding)
      ab.forEach((d, i) => {
        const da = a[a.length - ab.length + i] ?? 1;
        const db = b[b.length - ab.length + i] ?? 1;
        assert.ok(dimEq(d, da) || dimEq(d, db), `axis ${i}: ${d} from ${da} and ${db}`);
      });
      // the result absorbs both operands
      assert.deepEqual(tryBroadcast(ab, a), ab);
      assert.deepEqual(tryBroadcast(ab, ab), ab);
    }),
    { numRuns: 500 },
  );
});

test("property: dimMul and dimDiv are inverse, and dimMul is commutative and associative", () => {
  fc.assert(
    fc.property(symbolicDim, symbolicDim, symbolicDim, (a, b, c) => {
      const ab = dimMul(a, b);
      assert.equal(dimDiv(ab, b), normDim(a), `(${a} * ${b}) / ${b}`);
      assert.equal(dimDiv(ab, a), normDim(b), `(${a} * ${b}) / ${a}`);
      assert.equal(ab, dimMul(b, a));
      assert.equal(dimMul(ab, c), dimMul(a, dimMul(b, c)));
      const q = dimDiv(a, b);
      if (q !== undefined) assert.equal(dimMul(q, b), normDim(a), `(${a} / ${b}) * ${b}`);
      assert.equal(dimDiv(a, a), 1);
      assert.equal(dimMul(a, 1), normDim(a));
    }),
    { numRuns: 500 },
  );
  // on plain numbers they are integer * and exact /
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), (a, b) => {
      assert.equal(dimMul(a, b), a * b);
      assert.equal(dimDiv(a, b), a % b === 0 ? a / b : undefined);
    }),
  );
  // dividing by a symbol the product lacks is undefined
  assert.equal(dimDiv("B*T", "H"), undefined);
  assert.equal(dimDiv("4*B", 8), undefined);
  assert.equal(dimDiv("4*B*T", "2*T"), "2*B");
  assert.equal(numel(["B", 4, "T", 2]), "8*B*T");
});
