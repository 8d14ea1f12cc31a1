// Builds one graph that uses nearly every op (forward and backward, symbolic batch and
// sequence dims included), exports it, runs it in ONNX Runtime, and prints a JSON
// summary on stdout. Run as a child process by test/graph/gradcheck.test.ts, which
// asserts that nothing at all reaches stderr: ONNX Runtime prints its warnings there
// (unused initializers, type or shape inference mismatches, ...).

import { Graph, grad, op, quantizeAbsmax, quantizeNf4, type TypedArray, toOnnx } from "../../src/graph/index.js";
import { compile } from "../../src/runtime/session.js";
import { indices, randn } from "./gradcheck.js";

const C = 8; // model width
const V = 5; // vocabulary

const g = new Graph();
// ---- symbolic part: [B, T, C] activations, [B, T] token ids
const x = g.input("x", "float32", ["B", "T", C]);
const ids = g.input("ids", "int64", ["B", "T"]);
const w = g.param("w", [C, C], { kind: "normal", std: 0.1 });
const bias = g.param("bias", [C], { kind: "constant", value: 0 });
const table = g.param("table", [V, C], { kind: "normal", std: 0.1 });
const frozen = g.param("frozen", [C], { kind: "constant", value: 1 }, { trainable: false });
const positions = g.param("positions", [16, C], { kind: "normal", std: 0.1 }, { trainable: false });

const emb = op.gather(table, ids, 0); // [B, T, C]
const flat = op.reshape(op.add(x, emb), ["B*T", C]); // [B*T, C]
const hidden = op.gelu(op.add(op.matmul(flat, w), bias)); // [B*T, C]
// a frozen NF4 base with double-quantized scales (QLoRA): hidden @ Wᵀ, W [C, C] in blocks of 16
const nf4 = quantizeNf4(Float32Array.from(randn([C * C], 9, 0.5)), 16);
const nf4Scales = quantizeAbsmax(nf4.absmax, 3); // 4 absmaxes: a short second block
const nf4Absmax = op.dequantizeAbsmax(
  op.constant(g, nf4Scales.absmaxQ, [nf4Scales.absmaxQ.length], "uint8"),
  op.constant(g, nf4Scales.absmaxScale, [nf4Scales.absmaxScale.length]),
  nf4Scales.absmaxOffset,
  nf4Scales.blockSize,
);
const base = op.matmulBnb4(hidden, op.constant(g, nf4.packed, [nf4.packed.length], "uint8"), nf4Absmax, {
  k: C,
  n: C,
  blockSize: 16,
}); // [B*T, C]
const y = op.add(op.reshape(hidden, ["B", "T", -1]), op.slice(positions, 0, 0, "T")); // [B, T, C] + [T, C]
const probs = op.softmax(y, -1);
const logp = op.logSoftmax(y, 1);
const top = op.topK(y, 3, -1);
const picked = op.gatherElements(y, top.indices, 2); // [B, T, 3]
const gate = op.where(op.greater(y, 0), y, op.full(g, ["B", "T", C], 0.1));
const noise = op.randomUniformLike(y, 0.9, 1.1, 7);
const mixed = op.concat([op.slice(probs, -1, 0, 4), op.pad(op.slice(logp, -1, 4), -1, 1, 0)], -1); // [B, T, 9]
const running = op.cumSum(op.transpose(y, [1, 0, 2]), 0, { reverse: true }); // [T, B, C]
const scaled = op.div(op.mul(op.expand(frozen, ["B", "T", C]), gate), op.add(op.sqrt(op.exp(op.neg(y))), 1));
const ste = op.customVjp(op.stopGradient(op.relu(y)), [op.sigmoid(y)], (d) => [d]);
const powered = op.pow(op.add(op.tanh(y), 2), 1.5);
const logged = op.log(op.add(op.mul(ste, ste), 1));
const cast64 = op.cast(op.reduceMax(op.sub(powered, logged), -1), "float64"); // [B, T]
const symbolic = op.add(
  op.add(op.reduceSum(mixed), op.reduceMean(running, 2, true)),
  op.add(op.add(op.reduceSum(picked), op.reduceSum(op.mul(scaled, noise))), op.reduceSum(base)),
);

// ---- static part: images, nd-indexing, scatters
const img = g.input("img", "float32", [1, 2, 5, 5]);
const kernel = g.param("kernel", [3, 2, 3, 2], { kind: "normal", std: 0.1 });
const kernelT = g.param("kernelT", [3, 2, 2, 2], { kind: "normal", std: 0.1 });
const conv = op.conv2d(img, kernel, { stride: 2, padding: [1, 0, 1, 1], dilation: [1, 2] }); // [1, 3, 3, 2]
const up = op.convTranspose2d(conv, kernelT, { stride: 2, padding: 1, outputPadding: [1, 1] }); // [1, 2, 5, 3]
const grid = op.reshape(up, [2, 5, 3]);
const rows = op.gatherND(grid, indices(g, [0, 1, 1, 4, 0, 1], [3, 2])); // [3, 3]
const scattered = op.scatterNDAdd(grid, indices(g, [1, 1, 0], [3, 1]), op.full(g, [3, 5, 3], 1));
const added = op.scatterElementsAdd(rows, indices(g, [0, 0, 2, 1, 1, 1, 2, 0, 0], [3, 3]), rows, 1);
const imageLoss = op.add(op.reduceSum(op.mul(scattered, scattered)), op.reduceSum(op.mul(added, added)));

const loss = op.add(op.add(op.reduceSum(symbolic), op.cast(op.reduceSum(cast64), "float32")), imageLoss);
const trainable = g.trainableParams();
const grads = grad(loss, trainable);

const values = new Map<string, TypedArray>();
let seed = 100;
for (const p of g.params.values()) {
  if (p.node.op !== "param") continue;
  values.set(p.node.attrs.name, Float32Array.from(randn(p.shape as number[], seed++, 0.5)));
}
const outputs = Object.fromEntries([["loss", loss], ["y", y], ...trainable.map((_, i) => [`d_${i}`, grads[i]])]);
const model = toOnnx({ outputs, paramValue: (name) => values.get(name), name: "export_all_ops" });
const session = await compile(model);
const B = 2;
const T = 3;
const result = await session.run({
  x: { dtype: "float32", shape: [B, T, C], data: Float32Array.from(randn([B, T, C], 1)) },
  ids: { dtype: "int64", shape: [B, T], data: BigInt64Array.from([0n, 4n, 2n, 2n, 1n, 3n]) },
  img: { dtype: "float32", shape: [1, 2, 5, 5], data: Float32Array.from(randn([50], 2)) },
});
for (const [name, t] of Object.entries(result)) {
  for (const v of t.data as Float32Array) {
    if (!Number.isFinite(v)) throw new Error(`output ${name} has a non-finite value`);
  }
}
const ops = [...new Set(g.nodes.map((n) => n.op))].sort();
const shapes = Object.fromEntries(Object.entries(result).map(([k, v]) => [k, v.shape]));
process.stdout.write(JSON.stringify({ ops, shapes }));
