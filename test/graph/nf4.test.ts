// NF4 (QLoRA's 4-bit NormalFloat) against ONNX Runtime's com.microsoft.MatMulBnb4: the
// codebook and nibble layout, our quantizer against the kernel's dequantization, the
// gradient of x, double quantization of the block scales, and the bits each weight costs.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ABSMAX_BLOCK_SIZE,
  dequantizeAbsmax,
  dequantizeNf4,
  Graph,
  grad,
  NF4_CODEBOOK,
  type Nf4Tensor,
  nf4Bits,
  op,
  quantizeAbsmax,
  quantizeNf4,
  type Tensor,
  toOnnx,
} from "../../src/graph/index.js";
import { Rng } from "../../src/runtime/rng.js";
import { compile } from "../../src/runtime/session.js";
import { formatReport, gradcheck } from "../helpers/gradcheck.js";

/** Normal weights (std 0.02), a fraction of them 8x larger (what makes per-block scales worth having). */
function weights(count: number, seed: number, outliers = 0.001): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: count }, () => (rng.chance(outliers) ? 8 : 1) * 0.02 * rng.normal());
}

const packedConst = (g: Graph, q: Nf4Tensor): Tensor => op.constant(g, q.packed, [q.packed.length], "uint8");
const absmaxConst = (g: Graph, absmax: Float32Array): Tensor => op.constant(g, absmax, [absmax.length]);

/** y = x @ Wᵀ in float64, W [n, k] row-major, x [rows, k]; also Σ|x||w| per entry (the rounding scale). */
function reference(x: Float32Array, w: Float32Array, rows: number, n: number, k: number) {
  const y = new Float64Array(rows * n);
  const mag = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < n; o++) {
      let s = 0;
      let m = 0;
      for (let i = 0; i < k; i++) {
        s += x[r * k + i] * w[o * k + i];
        m += Math.abs(x[r * k + i] * w[o * k + i]);
      }
      y[r * n + o] = s;
      mag[r * n + o] = m;
    }
  }
  return { y, mag };
}

// ------------------------------------------------------------ (a) codebook, layout, round trip

test("NF4 codebook: 16 ascending float32 levels from -1 to 1 with an exact 0", () => {
  assert.equal(NF4_CODEBOOK.length, 16);
  assert.equal(NF4_CODEBOOK[0], -1);
  assert.equal(NF4_CODEBOOK[7], 0);
  assert.equal(NF4_CODEBOOK[15], 1);
  for (let i = 0; i < 16; i++) {
    assert.equal(Math.fround(NF4_CODEBOOK[i]), NF4_CODEBOOK[i], `level ${i} is a float32`);
    if (i > 0) assert.ok(NF4_CODEBOOK[i] > NF4_CODEBOOK[i - 1], `level ${i} above level ${i - 1}`);
  }
  // Two values from the QLoRA paper's Appendix E table, as bitsandbytes prints them.
  assert.equal(NF4_CODEBOOK[1], -0.6961928009986877);
  assert.equal(NF4_CODEBOOK[14], 0.7229568362236023);
  assert.ok(Object.isFrozen(NF4_CODEBOOK));
});

test("quantizeNf4: the even flat index goes to the high nibble; an odd tail pads with the code of 0", () => {
  // One block (absmax 2): 2 -> code 15, -2 -> code 0, 0 -> code 7, 1 -> 0.5 -> code 12 (0.4407), -0.2 -> -0.1 -> code 6 (-0.091).
  const q = quantizeNf4(Float32Array.of(2, -2, 0, 1, -0.2), 16);
  assert.deepEqual([...q.absmax], [2]);
  assert.deepEqual([...q.packed], [0xf0, 0x7c, 0x67]);
  assert.equal(q.numel, 5);
  assert.deepEqual([...dequantizeNf4(q)], [2, -2, 0, Math.fround(NF4_CODEBOOK[12] * 2), Math.fround(NF4_CODEBOOK[6] * 2)]);
  // Every level times the absmax comes back exactly; an all-zero block has absmax 0 and stays 0.
  const levels = Float32Array.from(NF4_CODEBOOK, (v) => Math.fround(v * 0.75));
  assert.deepEqual([...dequantizeNf4(quantizeNf4(levels, 16))], [...levels]);
  assert.deepEqual([...dequantizeNf4(quantizeNf4(new Float32Array(32), 16))], new Array(32).fill(0));
});

test("NF4 round trip: every error is within half the widest codebook gap times its block's absmax", () => {
  let halfGap = 0;
  for (let i = 1; i < 16; i++) halfGap = Math.max(halfGap, (NF4_CODEBOOK[i] - NF4_CODEBOOK[i - 1]) / 2);
  for (const blockSize of [16, 64, 256]) {
    const w = weights(4096 + 37, blockSize); // a short last block too
    const q = quantizeNf4(w, blockSize);
    const back = dequantizeNf4(q);
    let worstRatio = 0;
    let sq = 0;
    let norm = 0;
    for (let i = 0; i < w.length; i++) {
      const bound = halfGap * q.absmax[Math.floor(i / blockSize)] * (1 + 1e-6);
      const err = Math.abs(w[i] - back[i]);
      assert.ok(err <= bound, `block size ${blockSize}, w[${i}] = ${w[i]}: error ${err} > ${bound}`);
      worstRatio = Math.max(worstRatio, err / bound);
      sq += err * err;
      norm += w[i] * w[i];
    }
    // Not just bounded: the typical (rms) error is a small fraction of the weights.
    assert.ok(Math.sqrt(sq / norm) < 0.15, `block size ${blockSize}: relative rms error ${Math.sqrt(sq / norm)}`);
  }
});

// ------------------------------------------------------------ (b) our codes are what ONNX Runtime multiplies by

const shapes: { label: string; n: number; k: number; blockSize: number; batch: number[] }[] = [
  { label: "n=48 k=64, blocks of 64, x [3, 64]", n: 48, k: 64, blockSize: 64, batch: [3] },
  { label: "n=24 k=96, blocks of 256, x [2, 5, 96]", n: 24, k: 96, blockSize: 256, batch: [2, 5] },
  { label: "n=5 k=13 (odd count, short last block of 16), x [4, 13]", n: 5, k: 13, blockSize: 16, batch: [4] },
];
for (const s of shapes) {
  test(`matmulBnb4 (ONNX Runtime) equals x @ dequantizeNf4(W)ᵀ within 1e-5: ${s.label}`, async () => {
    const w = weights(s.n * s.k, s.n + s.k);
    const q = quantizeNf4(w, s.blockSize);
    const g = new Graph();
    const x = g.input("x", "float32", [...s.batch, s.k]);
    const y = op.matmulBnb4(x, packedConst(g, q), absmaxConst(g, q.absmax), { k: s.k, n: s.n, blockSize: s.blockSize });
    assert.deepEqual(y.shape, [...s.batch, s.n]);
    const model = await compile(toOnnx({ outputs: { y }, name: "nf4_matmul" }), { threads: 1 });
    const rows = s.batch.reduce((a, b) => a * b, 1);
    const rng = new Rng(3);
    const xv = Float32Array.from({ length: rows * s.k }, () => rng.normal());
    const out = (await model.run({ x: { dtype: "float32", shape: [...s.batch, s.k], data: xv } })).y;
    assert.deepEqual(out.shape, [...s.batch, s.n]);
    const ref = reference(xv, dequantizeNf4(q), rows, s.n, s.k);
    for (let i = 0; i < ref.y.length; i++) {
      const err = Math.abs(Number(out.data[i]) - ref.y[i]);
      assert.ok(err <= 1e-5 * ref.mag[i], `y[${i}]: ONNX Runtime ${out.data[i]} vs ${ref.y[i]} (scale ${ref.mag[i]})`);
    }
  });
}

test("dequantizeBnb4 and dequantizeAbsmax in the graph are bit-identical to nf4.ts; matmulBnb4 takes computed absmax", async () => {
  const [n, k, blockSize] = [40, 128, 16]; // 320 blocks: two absmax blocks of 256, the second short
  const w = weights(n * k, 5);
  const q = quantizeNf4(w, blockSize);
  const dq = quantizeAbsmax(q.absmax);
  const g = new Graph();
  const x = g.input("x", "float32", [2, k]);
  const absmax = op.dequantizeAbsmax(
    op.constant(g, dq.absmaxQ, [dq.absmaxQ.length], "uint8"),
    op.constant(g, dq.absmaxScale, [dq.absmaxScale.length]),
    dq.absmaxOffset,
    dq.blockSize,
  );
  const packed = packedConst(g, q);
  const dense = op.dequantizeBnb4(packed, absmax, { k, n, blockSize });
  const y = op.matmulBnb4(x, packed, absmax, { k, n, blockSize });
  const model = await compile(toOnnx({ outputs: { absmax, dense, y }, name: "nf4_double_quant" }), { threads: 1 });
  const rng = new Rng(8);
  const xv = Float32Array.from({ length: 2 * k }, () => rng.normal());
  const out = await model.run({ x: { dtype: "float32", shape: [2, k], data: xv } });
  const absmaxJs = dequantizeAbsmax(dq);
  const denseJs = dequantizeNf4(q, absmaxJs);
  assert.deepEqual(out.dense.shape, [n, k]);
  assert.deepEqual([...(out.absmax.data as Float32Array)], [...absmaxJs], "absmax");
  assert.deepEqual([...(out.dense.data as Float32Array)], [...denseJs], "dequantized weight");
  const ref = reference(xv, denseJs, 2, n, k);
  for (let i = 0; i < ref.y.length; i++) {
    assert.ok(Math.abs(Number(out.y.data[i]) - ref.y[i]) <= 1e-5 * ref.mag[i], `y[${i}]`);
  }
});

// ------------------------------------------------------------ (c) gradient of x

test("gradcheck: x through matmulBnb4 (float32) against finite differences of x @ dequantized Wᵀ", async (t) => {
  const [n, k, blockSize] = [6, 32, 16];
  const q = quantizeNf4(weights(n * k, 21), blockSize);
  const dense = dequantizeNf4(q); // [n, k]
  const r = await gradcheck(
    (g, [x]) => op.matmulBnb4(x, packedConst(g, q), absmaxConst(g, q.absmax), { k, n, blockSize }),
    [{ label: "x", shape: [2, 3, k], data: Array.from(weights(2 * 3 * k, 22), (v) => v * 20) }],
    {
      dtype: "float32",
      eps: 1e-2,
      rtol: 1e-3,
      atol: 1e-4,
      // the finite differences run the plain float matmul over our own dequantization
      reference: (g, [x]) => op.matmul(x, op.transposeLast(op.constant(g, dense, [n, k]))),
    },
  );
  if (process.env.GRADCHECK_VERBOSE) t.diagnostic(formatReport("matmulBnb4", r));
  assert.ok(r.forwardOps.has("matmulBnb4"));
  assert.ok(r.backwardOps.has("matmul") && r.backwardOps.has("gather"), "dY @ W through the in-graph dequantization");
  assert.ok(!r.backwardOps.has("matmulBnb4"), "no MatMulBnb4 with transB 0 in the backward pass");
  assert.ok(r.ok, formatReport("matmulBnb4", r));
});

test("matmulBnb4 gradient: nothing flows to the quantized weight; asking for absmax's says so", () => {
  const q = quantizeNf4(weights(64, 1), 16);
  const g = new Graph();
  const x = g.input("x", "float32", [2, 8]);
  const scales = g.param("scales", [4], { kind: "constant", value: 1 });
  const loss = op.reduceSum(
    op.matmulBnb4(x, packedConst(g, q), op.mul(scales, absmaxConst(g, q.absmax)), { k: 8, n: 8, blockSize: 16 }),
  );
  const [dx] = grad(loss, [x]);
  assert.deepEqual(dx.shape, [2, 8]);
  assert.throws(() => grad(loss, [scales]), /absmax is a quantization constant and gets no gradient; wrap it in op.stopGradient/);
});

// ------------------------------------------------------------ (d) double quantization and bits per weight

test("double quantization: absmax within half a step; the weights' rms error grows < 2%; 4.5 -> 4.127 bits per weight", () => {
  const params = 256 * 1024; // 4096 blocks of 64: 16 absmax blocks of 256
  const rms = (w: Float32Array, a: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - w[i]) ** 2, 0) / params);
  for (const outliers of [0, 0.001, 0.01]) {
    const w = weights(params, 9, outliers);
    const q = quantizeNf4(w, 64);
    const dq = quantizeAbsmax(q.absmax);
    assert.equal(dq.absmaxQ.length, 4096);
    assert.equal(dq.absmaxScale.length, 4096 / ABSMAX_BLOCK_SIZE);
    const back = dequantizeAbsmax(dq);
    let worstRel = 0;
    for (let i = 0; i < back.length; i++) {
      const step = dq.absmaxScale[Math.floor(i / ABSMAX_BLOCK_SIZE)];
      const err = Math.abs(back[i] - q.absmax[i]);
      assert.ok(err <= step / 2 + 1e-6 * q.absmax[i], `absmax[${i}]: error ${err} > half step ${step / 2}`);
      worstRel = Math.max(worstRel, err / q.absmax[i]);
    }
    // Linear 8 bits resolve every scale to 1% when they are alike; an outlier's large scale
    // coarsens the step of its 256 neighbours (up to ~10% of a small one here).
    if (outliers === 0) assert.ok(worstRel < 0.01, `largest relative absmax error ${worstRel}`);
    const plain = rms(w, dequantizeNf4(q));
    const doubled = rms(w, dequantizeNf4(q, back));
    assert.ok(doubled < 1.02 * plain, `outliers ${outliers}: rms error ${doubled} with double quantization vs ${plain} without`);
  }

  // Bits per weight: the figures, and what the arrays above actually hold.
  assert.equal(nf4Bits(1 << 24, 64, false), 4.5);
  assert.ok(Math.abs(nf4Bits(1 << 24, 64, true) - (4 + 8 / 64 + 32 / (64 * 256))) < 1e-5);
  const q = quantizeNf4(weights(params, 9), 64);
  const dq = quantizeAbsmax(q.absmax);
  const stored = 8 * q.packed.length + 8 * dq.absmaxQ.length + 32 * dq.absmaxScale.length + 32;
  assert.equal(nf4Bits(params, 64, true), stored / params);
  assert.equal(nf4Bits(params, 64, false), (8 * q.packed.length + 32 * q.absmax.length) / params);
  assert.equal(nf4Bits(4096, 16, false), 6);
});

// ------------------------------------------------------------ (e) bad inputs

test("NF4 bad inputs fail with messages that say what was expected", () => {
  const q = quantizeNf4(weights(64, 2), 16); // 32 bytes, 4 blocks
  assert.throws(
    () => quantizeNf4(new Float32Array(96), 48),
    /quantizeNf4: block size 48 is not supported; it must be one of 16, 32, 64, 128, 256/,
  );
  assert.throws(() => quantizeNf4(Float32Array.of(1, Number.NaN)), /quantizeNf4: w\[1\] is NaN; only finite weights/);
  assert.throws(() => quantizeNf4(new Float32Array(0)), /quantizeNf4: w is empty/);
  assert.throws(() => nf4Bits(1000, 100), /nf4Bits: block size 100 is not supported/);
  assert.throws(
    () => dequantizeNf4({ ...q, packed: q.packed.subarray(1) }),
    /packed codes have 31 bytes; 64 values need ceil\(64 \/ 2\) = 32/,
  );
  assert.throws(
    () => dequantizeNf4(q, new Float32Array(3)),
    /absmax has 3 values; 64 values in blocks of 16 need 4 \(one per block\)/,
  );
  assert.throws(
    () => dequantizeAbsmax({ ...quantizeAbsmax(new Float32Array(300)), absmaxScale: new Float32Array(1) }),
    /1 scales for 300 codes in blocks of 256 \(need 2\)/,
  );

  const g = new Graph();
  const x = g.input("x", "float32", [2, 8]);
  const packed = packedConst(g, q);
  const absmax = absmaxConst(g, q.absmax);
  const opts = { k: 8, n: 8, blockSize: 16 };
  assert.throws(
    () => op.matmulBnb4(x, op.constant(g, q.packed.subarray(2), [30], "uint8"), absmax, opts),
    /matmulBnb4 \(n=8, k=8\): packed codes have 30 bytes; 64 values need ceil\(64 \/ 2\) = 32/,
  );
  assert.throws(
    () => op.matmulBnb4(x, packed, absmax, { ...opts, blockSize: 32 }),
    /absmax has 4 values; 64 values in blocks of 32 need 2/,
  );
  assert.throws(() => op.matmulBnb4(x, packed, absmax, { ...opts, blockSize: 12 }), /block size 12 is not supported/);
  assert.throws(() => op.matmulBnb4(x, op.constant(g, q.packed, [32]), absmax, opts), /packed must be static uint8/); // a bare Uint8Array is bool
  assert.throws(() => op.matmulBnb4(g.input("x7", "float32", [2, 7]), packed, absmax, opts), /x \[2, 7\] must be \[\.\.\., 8\]/);
  assert.throws(() => op.matmulBnb4(g.input("x64", "float64", [2, 8]), packed, absmax, opts), /x must be float32/);
  assert.throws(() => op.matmulBnb4(x, packed, absmax, { ...opts, k: 0 }), /k=0 and n=8 must be positive integers/);
  assert.throws(
    () =>
      op.dequantizeAbsmax(op.constant(g, new Uint8Array(300), [300], "uint8"), op.constant(g, new Float32Array(1), [1]), 0, 256),
    /dequantizeAbsmax: scale must be float32 \[2\] for 300 codes in blocks of 256/,
  );
});
